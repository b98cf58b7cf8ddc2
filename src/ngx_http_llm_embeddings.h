
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_EMBEDDINGS_H_INCLUDED_
#define _NGX_HTTP_LLM_EMBEDDINGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_json.h"


/*
 * OpenAI /v1/embeddings for providers that are not OpenAI-format (Gemini
 * batchEmbedContents, Bedrock Titan and Cohere): the client's request
 * read into this, and the provider's vectors written back as OpenAI's
 * list, float arrays or base64 of little-endian float32s.
 */

typedef struct {
    ngx_array_t         input;      /* ngx_str_t: the texts, decoded */
    ngx_int_t           dimensions; /* -1: unset */
    unsigned            base64:1;   /* encoding_format "base64" */
} ngx_http_llm_embed_t;


/*
 * The client's request into ctx->embed: NGX_OK; NGX_DECLINED with
 * ctx->error (token arrays, an empty input, a bad dimensions or
 * encoding_format); NGX_ERROR
 */
ngx_int_t ngx_http_llm_embed_parse(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js);

/*
 * vec[0..n-1]: the tokens of the provider's vectors (arrays of numbers),
 * in input order; prompt_tokens < 0: unknown (zero).  NGX_DECLINED: not
 * one vector per input, or not arrays of numbers.
 */
ngx_int_t ngx_http_llm_embed_write(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js, ngx_int_t *vec,
    ngx_uint_t n, ngx_int_t prompt_tokens, ngx_chain_t **out);


/* the provider's answer tokenized: NGX_OK (an object), NGX_DECLINED */
ngx_int_t ngx_http_llm_embed_json(ngx_http_request_t *r, ngx_str_t *body,
    ngx_http_llm_json_t *js);

/* the elements of array "arr" (or their member "key") as the vectors */
ngx_int_t ngx_http_llm_embed_array(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js, ngx_int_t arr,
    const char *key, ngx_chain_t **out);


#endif /* _NGX_HTTP_LLM_EMBEDDINGS_H_INCLUDED_ */
