/* The public quantizer handles: shared by the API (quant_api.c) and their files (quant_io.c). */
#ifndef VS_QUANT_QUANT_API_H
#define VS_QUANT_QUANT_API_H

#include "quant/pq.h"
#include "quant/sq.h"

struct vs_scalar_quantizer {
    vs_sq sq;
};
struct vs_product_quantizer {
    vs_pq pq;
};

#endif
