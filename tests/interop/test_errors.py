"""Malformed requests and bitstreams: INVALID_ARGUMENT with a message, and the daemon lives on."""
import grpc
import pytest

import aic_client as ac
from aic_client import pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT
I420 = pb.PIXEL_FORMAT_I420


def good(**kw):
    """A valid 32x32 I420 request, with fields overridden by kw."""
    return ac.video_request(I420, kw.pop("w", 32), kw.pop("h", 32), seed=1, **kw)


def audio(samples=960, channels=2, rate=48000, **kw):
    return ac.audio_request(samples, channels, rate, seed=1, **kw)


NAN = float("nan")
INF = float("inf")

BAD_REQUESTS = {
    "data_one_byte_short": lambda: good(data=bytes(ac.frame_size(I420, 32, 32) - 1)),
    "data_one_byte_long": lambda: good(data=bytes(ac.frame_size(I420, 32, 32) + 1)),
    "data_empty": lambda: good(data=b""),
    "rgb24_data_sized_for_i420": lambda: ac.video_request(
        pb.PIXEL_FORMAT_RGB24, 32, 32, data=bytes(ac.frame_size(I420, 32, 32))),
    "odd_size_even_chroma_assumed": lambda: ac.video_request(  # 33x17 with floor(w/2) chroma
        I420, 33, 17, data=bytes(33 * 17 + 2 * 16 * 8)),
    "width_0": lambda: good(w=0, data=b""),
    "height_0": lambda: good(h=0, data=b""),
    "width_0_with_data": lambda: good(w=0, data=bytes(ac.frame_size(I420, 32, 32))),
    "width_over_limit_7681": lambda: ac.video_request(pb.PIXEL_FORMAT_RGB24, 7681, 1, seed=1),
    "height_over_limit_4321": lambda: ac.video_request(pb.PIXEL_FORMAT_RGB24, 1, 4321, seed=1),
    "huge_dimensions": lambda: good(w=0xFFFFFFFF, h=0xFFFFFFFF, data=b"\0" * 64),
    "dimensions_overflow_32bit": lambda: good(w=65536, h=65536, data=b""),
    "frame_type_unspecified": lambda: good(frame_type=pb.FRAME_TYPE_UNSPECIFIED),
    "frame_type_99": lambda: good(frame_type=99),
    "pixel_format_unspecified": lambda: pb.CompressFrameRequest(
        frame_type=pb.FRAME_TYPE_VIDEO, width=32, height=32,
        data=bytes(ac.frame_size(I420, 32, 32)), mode=pb.COMPRESSION_MODE_LOSSLESS),
    "pixel_format_99": lambda: pb.CompressFrameRequest(
        frame_type=pb.FRAME_TYPE_VIDEO, pixel_format=99, width=32, height=32,
        data=bytes(ac.frame_size(I420, 32, 32)), mode=pb.COMPRESSION_MODE_LOSSLESS),
    "mode_99": lambda: good(mode=99),
    "codec_preference_99": lambda: good(codec_preference=99),
    "target_ratio_negative": lambda: good(target_ratio=-0.5),
    "target_ratio_above_1": lambda: good(target_ratio=1.5),
    "target_ratio_nan": lambda: good(target_ratio=NAN),
    "target_ratio_inf": lambda: good(target_ratio=INF),
    "min_ssim_above_1": lambda: good(min_ssim=1.5),
    "min_ssim_negative": lambda: good(min_ssim=-0.1),
    "min_ssim_nan": lambda: good(min_ssim=NAN),
    "latency_budget_negative": lambda: good(latency_budget_ms=-1),
    "network_rtt_negative": lambda: good(network=pb.NetworkConditions(rtt_ms=-1)),
    "network_bandwidth_negative": lambda: good(network=pb.NetworkConditions(bandwidth_kbps=-1)),
    "network_jitter_negative": lambda: good(network=pb.NetworkConditions(jitter_ms=-1)),
    "network_loss_above_1": lambda: good(network=pb.NetworkConditions(loss_fraction=1.5)),
    "network_loss_negative": lambda: good(network=pb.NetworkConditions(loss_fraction=-0.1)),
    "network_rtt_nan": lambda: good(network=pb.NetworkConditions(rtt_ms=NAN)),
    "session_id_129_bytes": lambda: good(session_id="x" * 129),
    "session_id_129_bytes_utf8": lambda: good(session_id="é" * 64 + "x"),  # 129 bytes, 65 chars
    "audio_without_params": lambda: pb.CompressFrameRequest(
        frame_type=pb.FRAME_TYPE_AUDIO, data=ac.make_audio_s16(960, 2),
        mode=pb.COMPRESSION_MODE_LOSSLESS),
    "audio_sample_rate_0": lambda: audio(rate=0, data=ac.make_audio_s16(960, 2)),
    "audio_channels_0": lambda: audio(channels=0, data=ac.make_audio_s16(960, 2)),
    "audio_channels_9": lambda: audio(channels=9, data=bytes(9 * 2 * 100)),
    "audio_sample_rate_7999": lambda: audio(rate=7999, data=ac.make_audio_s16(960, 2)),
    "audio_sample_rate_192001": lambda: audio(rate=192001, data=ac.make_audio_s16(960, 2)),
    "audio_format_unspecified": lambda: pb.CompressFrameRequest(
        frame_type=pb.FRAME_TYPE_AUDIO, audio=pb.AudioParams(sample_rate=48000, channels=2),
        data=ac.make_audio_s16(960, 2), mode=pb.COMPRESSION_MODE_LOSSLESS),
    "audio_format_99": lambda: pb.CompressFrameRequest(
        frame_type=pb.FRAME_TYPE_AUDIO, audio=pb.AudioParams(format=99, sample_rate=48000,
                                                            channels=2),
        data=ac.make_audio_s16(960, 2), mode=pb.COMPRESSION_MODE_LOSSLESS),
    "audio_partial_sample_frame": lambda: audio(data=ac.make_audio_s16(960, 2) + b"\x01"),
    "audio_partial_stereo_frame": lambda: audio(data=ac.make_audio_s16(960, 2) + b"\x01\x02"),
    "audio_f32_partial_frame": lambda: audio(fmt=pb.AUDIO_FORMAT_F32LE,
                                             data=ac.make_audio_f32(480, 2) + b"\0\0\0\0"),
    "audio_empty": lambda: audio(data=b""),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_compress_rejects_bad_request(stub, alive, case):
    req = BAD_REQUESTS[case]()
    ac.expect_rpc_error(stub.CompressFrame, req, INVALID, what=f"CompressFrame {case}")


def test_good_request_of_the_table_is_good(stub):
    """The base requests of the table above are valid, so each case tests one defect."""
    for req in (good(), audio(), ac.video_request(pb.PIXEL_FORMAT_RGB24, 7680, 1, seed=1),
                ac.video_request(pb.PIXEL_FORMAT_RGB24, 1, 4320, seed=1),
                good(target_ratio=1.0, min_ssim=1.0, latency_budget_ms=0,
                     network=pb.NetworkConditions(loss_fraction=1.0)),
                good(session_id="é" * 64)):  # 128 bytes
        resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
        assert resp.original_size == len(req.data)


@pytest.fixture(scope="module")
def real_bitstream(stub):
    req = ac.video_request(pb.PIXEL_FORMAT_RGB24, 64, 48, seed=3)
    resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
    assert len(resp.bitstream) > 64
    return resp.bitstream


def _flip(bs, i):
    b = bytearray(bs)
    b[i] ^= 0x5A
    return bytes(b)


BAD_BITSTREAMS = {
    "empty": lambda bs: b"",
    "garbage": lambda bs: bytes(range(256)) * 4,
    "short_garbage": lambda bs: b"\x00\x01\x02",
    "magic_only": lambda bs: b"AICF",
    "header_only": lambda bs: bs[:32],
    "truncated_by_10": lambda bs: bs[:-10],
    "truncated_by_1": lambda bs: bs[:-1],
    "trailing_garbage": lambda bs: bs + b"\0\0\0\0",
    "payload_byte_flipped": lambda bs: _flip(bs, 32 + (len(bs) - 32) // 2),
    "last_byte_flipped": lambda bs: _flip(bs, len(bs) - 1),
    "header_width_flipped": lambda bs: _flip(bs, 16),
    "crc_flipped": lambda bs: _flip(bs, 29),
    "wrong_magic": lambda bs: b"XICF" + bs[4:],
    "wrong_version": lambda bs: ac.crc_fix(bs[:4] + b"\x02" + bs[5:]),
    "unknown_codec_valid_crc": lambda bs: ac.crc_fix(bs[:6] + b"\x63" + bs[7:]),
    "unknown_frame_type_valid_crc": lambda bs: ac.crc_fix(bs[:8] + b"\x09" + bs[9:]),
    "unknown_pixel_format_valid_crc": lambda bs: ac.crc_fix(bs[:9] + b"\x09" + bs[10:]),
    "huge_dimensions_valid_crc": lambda bs: ac.crc_fix(
        ac.set_u32(ac.set_u32(bs, 16, 100000), 20, 100000)),
    "wrong_dimensions_valid_crc": lambda bs: ac.crc_fix(ac.set_u32(bs, 16, 65)),
    "payload_size_lies_valid_crc": lambda bs: ac.crc_fix(ac.set_u32(bs, 24, len(bs))),
    "zero_dimensions_valid_crc": lambda bs: ac.crc_fix(ac.set_u32(bs, 16, 0)),
}


@pytest.mark.parametrize("case", sorted(BAD_BITSTREAMS))
def test_decompress_rejects_bad_bitstream(stub, alive, real_bitstream, case):
    bs = BAD_BITSTREAMS[case](real_bitstream)
    ac.expect_rpc_error(stub.DecompressFrame, pb.DecompressFrameRequest(bitstream=bs), INVALID,
                        what=f"DecompressFrame {case}")


def test_decompress_flipped_byte_in_zlib_payload(stub, alive):
    req = ac.video_request(pb.PIXEL_FORMAT_I420, 64, 48, seed=4, codec_preference=pb.CODEC_ZLIB)
    bs = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT).bitstream
    for i in (32, 40, len(bs) // 2, len(bs) - 1):
        ac.expect_rpc_error(stub.DecompressFrame,
                            pb.DecompressFrameRequest(bitstream=_flip(bs, i)), INVALID,
                            what=f"zlib payload byte {i} flipped")
    ac.expect_rpc_error(stub.DecompressFrame, pb.DecompressFrameRequest(bitstream=bs[:-10]),
                        INVALID, what="zlib truncated")


def test_decompress_swapped_codec_id_valid_crc(stub, alive, real_bitstream):
    """A zstd payload labelled zlib (with a recomputed CRC) must not decode."""
    bs = ac.crc_fix(real_bitstream[:6] + bytes([pb.CODEC_ZLIB]) + real_bitstream[7:])
    ac.expect_rpc_error(stub.DecompressFrame, pb.DecompressFrameRequest(bitstream=bs), INVALID,
                        what="zstd payload labelled zlib")


def test_unknown_method_unimplemented(channel, alive):
    call = channel.unary_unary("/auralink.aic.v1.AICCompressionService/Nope",
                               request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as ei:
        call(b"", timeout=ac.RPC_TIMEOUT)
    assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED, (
        f"unknown method: {ei.value.code().name} {ei.value.details()!r}")
    other = channel.unary_unary("/no.such.Service/Method", request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as ei:
        other(b"\x08\x01", timeout=ac.RPC_TIMEOUT)
    assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED, (
        f"unknown service: {ei.value.code().name} {ei.value.details()!r}")


def test_unparseable_protobuf_is_rejected(channel, alive):
    """Bytes that are not a CompressFrameRequest: an error status (INVALID_ARGUMENT expected,
    INTERNAL tolerated as gRPC's own code for undecodable messages), never a crash."""
    call = channel.unary_unary("/auralink.aic.v1.AICCompressionService/CompressFrame",
                               request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    for junk in (b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x4a\x80\x80\x80\x80\x10"):
        with pytest.raises(grpc.RpcError) as ei:
            call(junk, timeout=ac.RPC_TIMEOUT)
        assert ei.value.code() in (grpc.StatusCode.INVALID_ARGUMENT,
                                   grpc.StatusCode.INTERNAL), (
            f"junk {junk!r}: {ei.value.code().name} {ei.value.details()!r}")


def test_network_rpcs_reject_negative_values(stub, alive):
    for net in (pb.NetworkConditions(rtt_ms=-1), pb.NetworkConditions(bandwidth_kbps=-5),
                pb.NetworkConditions(loss_fraction=1.5), pb.NetworkConditions(jitter_ms=-0.1),
                pb.NetworkConditions(rtt_ms=NAN)):
        ac.expect_rpc_error(stub.AnalyzeNetwork, pb.NetworkAnalysisRequest(network=net),
                            INVALID, what=f"AnalyzeNetwork {net}")
        ac.expect_rpc_error(stub.GetHints, pb.HintsRequest(network=net), INVALID,
                            what=f"GetHints {net}")
    ac.expect_rpc_error(stub.GetHints, pb.HintsRequest(frame_type=99), INVALID,
                        what="GetHints frame_type 99")
    ac.expect_rpc_error(stub.AnalyzeNetwork, pb.NetworkAnalysisRequest(session_id="y" * 129),
                        INVALID, what="AnalyzeNetwork session_id 129 bytes")


def test_message_over_server_limit(daemon_factory):
    """--max-message-bytes 1 MiB: a 2 MiB frame is RESOURCE_EXHAUSTED; smaller ones work."""
    d = daemon_factory(args=["--max-message-bytes", "1048576"])
    big = [("grpc.max_send_message_length", 64 << 20),
           ("grpc.max_receive_message_length", 64 << 20)]
    stub = d.stub(options=big)
    req = ac.video_request(pb.PIXEL_FORMAT_RGBA, 1024, 512, kind="gradient", seed=1)
    assert len(req.data) == 2 << 20
    ac.expect_rpc_error(stub.CompressFrame, req, grpc.StatusCode.RESOURCE_EXHAUSTED,
                        what="2 MiB frame against a 1 MiB limit")
    ac.expect_rpc_error(stub.DecompressFrame,
                        pb.DecompressFrameRequest(bitstream=bytes(2 << 20)),
                        grpc.StatusCode.RESOURCE_EXHAUSTED, what="2 MiB bitstream")
    ac.assert_alive(stub, "an oversized message")
    small = ac.video_request(pb.PIXEL_FORMAT_RGBA, 512, 256, kind="gradient", seed=1)
    resp = stub.CompressFrame(small, timeout=ac.RPC_TIMEOUT)
    ac.check_lossless_response(small, resp)
    # On a stream, too: the oversized frame (sent once the first is answered) ends it.
    rq = ac.RequestQueue()
    responses = stub.CompressStream(iter(rq), timeout=ac.RPC_TIMEOUT)
    rq.put(small)
    first = next(responses)
    ac.check_lossless_response(small, first)
    rq.put(req)
    rq.put(small)
    rq.close()
    with pytest.raises(grpc.RpcError) as ei:
        extra = list(responses)
        raise AssertionError(f"stream with an oversized frame ended OK after {len(extra)} more")
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (
        f"oversized frame on a stream: {ei.value.code().name} {ei.value.details()!r}")
    ac.assert_alive(stub, "an oversized stream message")
