
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_LLM_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/* a provider type as written in "llm_provider ... type=NAME" */

typedef struct {
    ngx_str_t                       name;
    const ngx_http_llm_provider_t  *adapter;
    ngx_str_t                       base;       /* default path prefix */
    ngx_str_t                       host;       /* default TLS host    */
    ngx_uint_t                      quirks;
} ngx_http_llm_preset_t;


const ngx_http_llm_preset_t *ngx_http_llm_preset_find(ngx_str_t *name);

ngx_chain_t *ngx_http_llm_get_buf(ngx_http_request_t *r, size_t size);


extern const ngx_http_llm_provider_t  ngx_http_llm_provider_openai;
extern const ngx_http_llm_provider_t  ngx_http_llm_provider_azure;
extern const ngx_http_llm_provider_t  ngx_http_llm_provider_gemini;
extern const ngx_http_llm_provider_t  ngx_http_llm_provider_anthropic;
extern const ngx_http_llm_provider_t  ngx_http_llm_provider_bedrock;


#endif /* _NGX_HTTP_LLM_PROVIDER_H_INCLUDED_ */
