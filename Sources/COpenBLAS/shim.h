// OpenBLAS from Debian (libopenblas-dev): CBLAS for the fp32 GEMMs of calibration (X·Wᵀ, XᵀX)
// and the LAPACK routines it bundles for GPTQ's Cholesky factor. The LAPACK entry points are
// Fortran symbols, so their prototypes are declared here (all arguments by pointer).
#ifndef QUANTSERVICE_COPENBLAS_SHIM_H
#define QUANTSERVICE_COPENBLAS_SHIM_H
#include <cblas.h>

/// Cholesky factorisation of a symmetric positive definite matrix (uplo 'U' or 'L').
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
/// Inverse from the Cholesky factor written by spotrf_.
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);
/// The same in double precision (Hessians of wide layers are ill-conditioned in float).
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);
#endif
