/* Shared by the metrics sources. */
#ifndef AIC_METRICS_PSNR_INTERNAL_H
#define AIC_METRICS_PSNR_INTERNAL_H

/* PSNR in dB for a mean squared error against a peak value, capped at AIC_PSNR_IDENTICAL_DB:
 * identical inputs would be infinite, and a reconstruction one sample off in a large frame
 * would otherwise score above an exact one. */
double aic_psnr_from_mse(double mse, double peak);

#endif
