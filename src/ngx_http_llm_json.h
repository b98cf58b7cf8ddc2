
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_JSON_H_INCLUDED_
#define _NGX_HTTP_LLM_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


#define NGX_HTTP_LLM_JSON_UNDEFINED  0
#define NGX_HTTP_LLM_JSON_OBJECT     1
#define NGX_HTTP_LLM_JSON_ARRAY      2
#define NGX_HTTP_LLM_JSON_STRING     3
#define NGX_HTTP_LLM_JSON_PRIMITIVE  4

#define NGX_HTTP_LLM_JSON_MAX_DEPTH  128
#define NGX_HTTP_LLM_JSON_MAX_TOKENS (4 * 1024 * 1024)


/*
 * token: jsmntok_t's fields (type, start, end, size: the same values jsmn
 * gives), and two of ours written by the same pass: "next", the index of
 * the token after this one's subtree (skipping a value is one load), and
 * "esc", a string with a backslash (else its text is its value, as is)
 */

typedef struct {
    int                 type;
    int                 start;
    int                 end;
    int                 size;
    int                 next;
    int                 esc;
} ngx_http_llm_json_tok_t;


typedef struct {
    u_char                   *data;
    size_t                    len;
    ngx_http_llm_json_tok_t  *toks;
    ngx_int_t                 ntoks;
} ngx_http_llm_json_t;


/*
 * NGX_OK: parsed; NGX_DECLINED: not valid JSON (or too deep);
 * NGX_ABORT: more than max_tokens tokens; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llm_json_parse(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    u_char *data, size_t len, ngx_uint_t max_tokens);

#define ngx_http_llm_json_skip(js, i)  ((ngx_int_t) (js)->toks[i].next)
ngx_int_t ngx_http_llm_json_getn(ngx_http_llm_json_t *js, ngx_int_t obj,
    const char *key, size_t len);

/* the key's length is a constant when it is a literal (most are) */
#define ngx_http_llm_json_get(js, obj, key)                                   \
    ngx_http_llm_json_getn(js, obj, (key), ngx_strlen((key)))
ngx_int_t ngx_http_llm_json_index(ngx_http_llm_json_t *js, ngx_int_t arr,
    ngx_int_t n);

void ngx_http_llm_json_raw(ngx_http_llm_json_t *js, ngx_int_t i,
    ngx_str_t *out);
ngx_int_t ngx_http_llm_json_string(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t i, ngx_str_t *out);
ngx_int_t ngx_http_llm_json_int(ngx_http_llm_json_t *js, ngx_int_t i,
    ngx_int_t *out);
ngx_int_t ngx_http_llm_json_bool(ngx_http_llm_json_t *js, ngx_int_t i);
ngx_int_t ngx_http_llm_json_is_null(ngx_http_llm_json_t *js, ngx_int_t i);

#define ngx_http_llm_json_type(js, i)  ((js)->toks[i].type)

/*
 * A validating scan without tokens: checks that [p, last) is exactly one
 * JSON value (RFC 8259, at most NGX_HTTP_LLM_JSON_MAX_DEPTH deep) and, for
 * an object, records its top-level members (up to "max"; "*n" counts them
 * all).  Keys are raw (escapes not decoded; "escaped" says so).  It is the
 * fast path of the passthrough: no allocation, one pass.
 * NGX_OK or NGX_DECLINED (not valid JSON).
 */

typedef struct {
    ngx_str_t           key;
    u_char             *start;      /* the value */
    u_char             *end;
    ngx_uint_t          type;       /* NGX_HTTP_LLM_JSON_* */
    unsigned            escaped:1;  /* the key has a backslash */
} ngx_http_llm_json_member_t;

ngx_int_t ngx_http_llm_json_scan(u_char *p, u_char *last,
    ngx_http_llm_json_member_t *members, ngx_uint_t max, ngx_uint_t *n);

/* 1 when [p, p + n) is one valid JSON object (strict), else 0 */
ngx_int_t ngx_http_llm_json_is_object(u_char *p, size_t n);

/*
 * [p, p + n) as an answer: NGX_OK, a JSON object; NGX_DECLINED, an
 * object that is an error ({"error":...}, {"type":"error",...});
 * NGX_ERROR, not one valid JSON object
 */
ngx_int_t ngx_http_llm_json_error_object(u_char *p, size_t n);

/* a JSON string's contents (between the quotes) unescaped */
ngx_int_t ngx_http_llm_json_unescape(ngx_pool_t *pool, u_char *s,
    u_char *last, ngx_str_t *out);

/* the request body tokenized (once, on first use): NGX_OK, NGX_ABORT */
ngx_int_t ngx_http_llm_request_json(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t **jsp);

/* a case-sensitive search of s (n bytes) in [p, last): JSON keys */
u_char *ngx_http_llm_memmem(u_char *p, u_char *last, const char *s,
    size_t n);

/* writer helpers: escaped length / copy of a string without quotes */
size_t ngx_http_llm_json_plain(u_char *s, size_t n);
size_t ngx_http_llm_json_escape_len(u_char *s, size_t n);
u_char *ngx_http_llm_json_escape(u_char *dst, u_char *s, size_t n);


#endif /* _NGX_HTTP_LLM_JSON_H_INCLUDED_ */
