/* Splitting a per-element pass over threads (nic_internal.h). OpenMP, because Debian's libdnnl
 * already runs its kernels on libgomp: the passes reuse the threads of oneDNN's team instead of
 * keeping a second pool (docs/decisions/0003-openmp-passes.md). Built without OpenMP (a compiler
 * whose -fopenmp would bring a second runtime, CMakeLists.txt) every pass runs on the caller. */
#include "nic_internal.h"

void nic_par_for(int threads, size_t n, size_t work, nic_par_fn_t fn, void *ctx) {
  size_t t = threads > 1 && work >= NIC_PAR_MIN_WORK ? (size_t)threads : 1;
  if (t > n) t = n;
#ifdef _OPENMP
  if (t > 1) {
    /* One range per thread, the first n % t one longer; num_threads rather than the OpenMP
     * default, which conv_dnnl.c sets and restores around oneDNN's own calls. */
    const size_t len = n / t, extra = n % t;
#pragma omp parallel for num_threads((int)t) schedule(static)
    for (size_t k = 0; k < t; k++) {
      const size_t begin = k * len + (k < extra ? k : extra);
      fn(ctx, begin, begin + len + (k < extra ? 1 : 0));
    }
    return;
  }
#endif
  if (n) fn(ctx, 0, n);
}
