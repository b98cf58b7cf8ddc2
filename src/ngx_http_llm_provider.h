
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


/*
 * The Gemini path's model name: NGX_DECLINED for one that cannot be put
 * in it ("/", "?", "#", "\\", ".." or control characters); *out is the name
 * percent-encoded.  The handler asks before it routes a request there.
 */

ngx_int_t ngx_http_llm_gemini_model(ngx_pool_t *pool, ngx_str_t *model,
    ngx_str_t *out);


/*
 * The end of the request line and the headers every provider request
 * starts with: Host, Content-Type, Content-Length, Accept (an event
 * stream or JSON), Accept-Encoding: identity.  At most
 * NGX_HTTP_LLM_COMMON_HEADERS_LEN(pc) bytes.
 */

#define NGX_HTTP_LLM_COMMON_HEADERS_LEN(pc)                                   \
    (sizeof(" HTTP/1.1" CRLF) - 1                                             \
     + sizeof("Host: " CRLF) - 1 + (pc)->host.len                             \
     + sizeof("Content-Type: application/json" CRLF) - 1                      \
     + sizeof("Content-Length: " CRLF) - 1 + NGX_SIZE_T_LEN                   \
     + sizeof("Accept: text/event-stream" CRLF) - 1                           \
     + sizeof("Accept-Encoding: identity" CRLF) - 1)


static ngx_inline u_char *
ngx_http_llm_common_headers(u_char *p, ngx_http_llm_provider_conf_t *pc,
    ngx_uint_t stream, size_t body_len)
{
    p = ngx_cpymem(p, " HTTP/1.1" CRLF "Host: ",
                   sizeof(" HTTP/1.1" CRLF "Host: ") - 1);
    p = ngx_cpymem(p, pc->host.data, pc->host.len);
    p = ngx_sprintf(p, CRLF "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF, body_len);

    if (stream) {
        p = ngx_cpymem(p, "Accept: text/event-stream" CRLF,
                       sizeof("Accept: text/event-stream" CRLF) - 1);

    } else {
        p = ngx_cpymem(p, "Accept: application/json" CRLF,
                       sizeof("Accept: application/json" CRLF) - 1);
    }

    return ngx_cpymem(p, "Accept-Encoding: identity" CRLF,
                      sizeof("Accept-Encoding: identity" CRLF) - 1);
}


#endif /* _NGX_HTTP_LLM_PROVIDER_H_INCLUDED_ */
