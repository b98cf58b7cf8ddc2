
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _FUZZ_H_INCLUDED_
#define _FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* a made-up request, context and provider, as the unit harnesses do */
typedef struct {
    ngx_http_request_t             r;
    ngx_connection_t               c;
    ngx_log_t                      log;
    ngx_http_upstream_t            u;
    ngx_http_llm_ctx_t             ctx;
    ngx_http_llm_provider_conf_t   pc;
    ngx_pool_t                    *pool;
} fuzz_req_t;


void fuzz_pool_reset(void);
void fuzz_init(void);
void fuzz_request(fuzz_req_t *fr, const ngx_http_llm_provider_t *type,
    const ngx_http_llm_surface_t *surf);
/* a copy of the chain's bytes in one pool buffer */
ngx_str_t fuzz_chain_str(ngx_chain_t *cl);
void fuzz_fail(const char *what, ngx_str_t *a, ngx_str_t *b);
void unit_set_time(time_t sec);

extern ngx_pool_t  *fuzz_pool;


#endif /* _FUZZ_H_INCLUDED_ */
