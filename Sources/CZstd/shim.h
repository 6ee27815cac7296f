#ifndef PLUME_CZSTD_SHIM_H
#define PLUME_CZSTD_SHIM_H
#include <zstd.h>
#endif
