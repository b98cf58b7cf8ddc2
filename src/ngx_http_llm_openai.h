
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_OPENAI_H_INCLUDED_
#define _NGX_HTTP_LLM_OPENAI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"


/*
 * The OpenAI chat format on both sides of the canonical model, as pure
 * functions of a pool (the surface and the adapter call them; so does
 * the unit harness, t/unit/openai_roundtrip.c).
 */


/* dialects of the OpenAI-compatible providers, for the written body */
#define NGX_HTTP_LLM_OPENAI_MAX_COMPLETION   0x0001 /* max_completion_tokens */
#define NGX_HTTP_LLM_OPENAI_STREAM_USAGE     0x0002 /* stream_options */
#define NGX_HTTP_LLM_OPENAI_NO_NAMES         0x0004 /* Groq: no "name" */
#define NGX_HTTP_LLM_OPENAI_REASONING        0x0008 /* reasoning_content */
#define NGX_HTTP_LLM_OPENAI_SHORT_IDS        0x0010 /* Mistral: 9 alnum */


/*
 * An OpenAI chat request into the canonical request.  NGX_DECLINED: the
 * request is invalid, "error" says why (a NUL-terminated string).
 */
ngx_int_t ngx_http_llm_openai_parse(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req,
    const char **error);

/* the canonical request as an OpenAI chat request body */
ngx_int_t ngx_http_llm_openai_write_body(ngx_pool_t *pool,
    ngx_http_llm_request_t *req, ngx_str_t *model, ngx_uint_t flags,
    ngx_str_t *body);

/* a chat.completion body into a canonical response; NGX_DECLINED: bad */
ngx_int_t ngx_http_llm_openai_parse_response(ngx_pool_t *pool,
    ngx_str_t *body, ngx_http_llm_response_t *resp);

/* a canonical response as a chat.completion body */
ngx_int_t ngx_http_llm_openai_write_response_body(ngx_pool_t *pool,
    ngx_http_llm_response_t *resp, ngx_str_t *id, ngx_str_t *model,
    time_t created, ngx_str_t *body);

/* finish_reason values of OpenAI and its imitators, canonical */
ngx_uint_t ngx_http_llm_openai_finish(ngx_str_t *reason);

/* "chatcmpl-" and 24 random characters */
ngx_int_t ngx_http_llm_openai_make_id(ngx_pool_t *pool, const char *prefix,
    ngx_str_t *id);


#endif /* _NGX_HTTP_LLM_OPENAI_H_INCLUDED_ */
