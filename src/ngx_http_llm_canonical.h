
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_CANONICAL_H_INCLUDED_
#define _NGX_HTTP_LLM_CANONICAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_json.h"


/*
 * The canonical request, response and stream delta: OpenAI chat
 * semantics in C structs, all in the request pool.  Inbound surfaces
 * (OpenAI chat, Anthropic messages, ...) parse into them; provider
 * adapters write their wire format from them and parse their answers
 * back into them; the surface writes the client's format.  No N-by-M
 * translators: every format meets the others only here.
 *
 * Strings are unescaped (ready to be escaped again by the writer) unless
 * the field says "raw JSON": then it is a JSON text, copied verbatim.
 */


/* message roles */
#define NGX_HTTP_LLM_ROLE_SYSTEM        1   /* and OpenAI "developer" */
#define NGX_HTTP_LLM_ROLE_USER          2
#define NGX_HTTP_LLM_ROLE_ASSISTANT     3
#define NGX_HTTP_LLM_ROLE_TOOL          4   /* one tool result */

/* content parts */
#define NGX_HTTP_LLM_PART_TEXT          1
#define NGX_HTTP_LLM_PART_IMAGE         2   /* url, or media_type + data */
#define NGX_HTTP_LLM_PART_FILE          3   /* a document: media + data */
#define NGX_HTTP_LLM_PART_AUDIO         4   /* media_type + data */
#define NGX_HTTP_LLM_PART_THINKING      5   /* text + signature */
#define NGX_HTTP_LLM_PART_REDACTED      6   /* data: opaque, byte-exact */

/* tool_choice */
#define NGX_HTTP_LLM_TOOL_CHOICE_UNSET  0
#define NGX_HTTP_LLM_TOOL_CHOICE_AUTO   1
#define NGX_HTTP_LLM_TOOL_CHOICE_NONE   2
#define NGX_HTTP_LLM_TOOL_CHOICE_ANY    3   /* OpenAI "required" */
#define NGX_HTTP_LLM_TOOL_CHOICE_NAMED  4

/* response_format */
#define NGX_HTTP_LLM_FORMAT_TEXT        0
#define NGX_HTTP_LLM_FORMAT_JSON        1   /* json_object */
#define NGX_HTTP_LLM_FORMAT_SCHEMA      2   /* json_schema */

/* finish reasons: OpenAI's five */
#define NGX_HTTP_LLM_FINISH_NONE        0
#define NGX_HTTP_LLM_FINISH_STOP        1
#define NGX_HTTP_LLM_FINISH_LENGTH      2
#define NGX_HTTP_LLM_FINISH_TOOL_CALLS  3
#define NGX_HTTP_LLM_FINISH_FILTER      4   /* content_filter */

/* stream deltas */
#define NGX_HTTP_LLM_DELTA_START        1   /* id, model: first event */
#define NGX_HTTP_LLM_DELTA_TEXT         2   /* text */
#define NGX_HTTP_LLM_DELTA_REASONING    3   /* text */
#define NGX_HTTP_LLM_DELTA_SIGNATURE    4   /* text: thinking signature */
#define NGX_HTTP_LLM_DELTA_TOOL_START   5   /* index, id, name */
#define NGX_HTTP_LLM_DELTA_TOOL_ARGS    6   /* index, text: a piece */
#define NGX_HTTP_LLM_DELTA_FINISH       7   /* finish */
#define NGX_HTTP_LLM_DELTA_USAGE        8   /* ctx->usage is final */
#define NGX_HTTP_LLM_DELTA_ERROR        9   /* status, error_* */
#define NGX_HTTP_LLM_DELTA_DONE         10  /* end of the stream */
#define NGX_HTTP_LLM_DELTA_REDACTED     11  /* text: redacted thinking data,
                                               one whole block; surfaces
                                               without a place ignore it */


typedef struct {
    ngx_uint_t                  type;
    ngx_str_t                   text;       /* text, thinking */
    ngx_str_t                   url;        /* image by URL */
    ngx_str_t                   media_type; /* "image/png", ... */
    ngx_str_t                   data;       /* base64, or opaque */
    ngx_str_t                   signature;  /* thinking signature */
    ngx_str_t                   name;       /* file name */
} ngx_http_llm_part_t;


typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   name;
    ngx_str_t                   arguments;  /* raw JSON text, "{}" if none */
    ngx_str_t                   signature;  /* Gemini thoughtSignature */
} ngx_http_llm_tool_call_t;


typedef struct {
    ngx_uint_t                  role;
    ngx_array_t                 parts;      /* ngx_http_llm_part_t */
    ngx_array_t                 tool_calls; /* ngx_http_llm_tool_call_t */
    ngx_str_t                   tool_call_id;   /* role TOOL */
    ngx_str_t                   name;           /* user name, tool name */
    unsigned                    is_error:1;     /* tool result failed */
} ngx_http_llm_message_t;


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   description;
    ngx_str_t                   parameters; /* raw JSON schema, or empty */
} ngx_http_llm_tool_t;


struct ngx_http_llm_request_s {
    ngx_str_t                   model;
    ngx_array_t                 messages;   /* ngx_http_llm_message_t */
    ngx_array_t                 tools;      /* ngx_http_llm_tool_t */

    ngx_uint_t                  tool_choice;
    ngx_str_t                   tool_choice_name;
    ngx_int_t                   parallel_tool_calls; /* -1: unset */

    ngx_int_t                   max_tokens;          /* -1: unset */
    ngx_str_t                   temperature;         /* raw JSON number */
    ngx_str_t                   top_p;
    ngx_str_t                   top_k;
    ngx_str_t                   seed;
    ngx_str_t                   presence_penalty;
    ngx_str_t                   frequency_penalty;
    ngx_array_t                 stop;       /* ngx_str_t */
    ngx_int_t                   n;          /* -1: unset */

    ngx_uint_t                  format;
    ngx_str_t                   schema;     /* raw JSON */
    ngx_str_t                   schema_name;
    ngx_int_t                   schema_strict;      /* -1: unset */

    ngx_str_t                   reasoning_effort;   /* low|medium|high */
    ngx_int_t                   thinking_budget;    /* -1: unset */

    ngx_str_t                   user;

    unsigned                    stream:1;
    unsigned                    include_usage:1;
};


typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   model;
    time_t                      created;

    ngx_str_t                   text;       /* all text blocks joined */
    ngx_str_t                   reasoning;  /* all thinking joined */
    ngx_array_t                 tool_calls; /* ngx_http_llm_tool_call_t */
    ngx_array_t                 thinking;   /* ngx_http_llm_part_t */
    ngx_str_t                   refusal;

    ngx_uint_t                  finish;
    ngx_http_llm_usage_t        usage;
} ngx_http_llm_response_t;


typedef struct {
    ngx_uint_t                  type;
    ngx_uint_t                  index;      /* tool call: 0..n-1 */
    ngx_str_t                   id;
    ngx_str_t                   name;
    ngx_str_t                   model;
    ngx_str_t                   text;
    ngx_uint_t                  finish;

    ngx_uint_t                  status;     /* ERROR */
    ngx_str_t                   error_type;
    ngx_str_t                   error_message;
    ngx_str_t                   error_code;  /* OpenAI "code", or null */
} ngx_http_llm_delta_t;


/*
 * An inbound API surface: parses the client's request into the
 * canonical one and writes responses, stream events and errors in the
 * client's format.
 */

typedef ngx_int_t (*ngx_http_llm_parse_request_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
typedef ngx_int_t (*ngx_http_llm_write_response_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out);
typedef ngx_int_t (*ngx_http_llm_write_delta_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta,
    ngx_chain_t ***ll);
typedef ngx_chain_t *(*ngx_http_llm_write_error_pt)(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code,
    ngx_str_t *message);


struct ngx_http_llm_surface_s {
    ngx_str_t                          name;
    ngx_http_llm_parse_request_pt      parse_request;
    ngx_http_llm_write_response_pt     write_response;
    ngx_http_llm_write_delta_pt        write_delta;
    ngx_http_llm_write_error_pt        write_error;
};


extern const ngx_http_llm_surface_t  ngx_http_llm_surface_openai;
extern const ngx_http_llm_surface_t  ngx_http_llm_surface_anthropic;
extern const ngx_http_llm_surface_t  ngx_http_llm_surface_gemini;
extern const ngx_http_llm_surface_t  ngx_http_llm_surface_responses;


/*
 * A JSON writer into one growing pool buffer: for bodies that are built
 * field by field (translated requests and responses); the passthrough
 * path never uses it.
 */

typedef struct {
    ngx_pool_t                 *pool;
    u_char                     *start;
    u_char                     *pos;
    u_char                     *end;
    ngx_int_t                   failed;
} ngx_http_llm_jw_t;


ngx_int_t ngx_http_llm_jw_init(ngx_http_llm_jw_t *jw, ngx_pool_t *pool,
    size_t size);
void ngx_http_llm_jw_raw(ngx_http_llm_jw_t *jw, u_char *p, size_t n);
void ngx_http_llm_jw_str(ngx_http_llm_jw_t *jw, u_char *p, size_t n);
/* a string's contents escaped, without the quotes */
void ngx_http_llm_jw_esc(ngx_http_llm_jw_t *jw, u_char *p, size_t n);
void ngx_http_llm_jw_int(ngx_http_llm_jw_t *jw, ngx_int_t n);

#define ngx_http_llm_jw_lit(jw, s)                                            \
    ngx_http_llm_jw_raw(jw, (u_char *) s, sizeof(s) - 1)
#define ngx_http_llm_jw_string(jw, s)                                         \
    ngx_http_llm_jw_str(jw, (s)->data, (s)->len)

/* a bad request's message into *error; returns NGX_DECLINED */
#define NGX_HTTP_LLM_ERROR_LEN  256


/* n in decimal at p, as ngx_sprintf("%ui") writes it, without a format */

static ngx_inline u_char *
ngx_http_llm_write_uint(u_char *p, ngx_uint_t n)
{
    u_char   num[NGX_INT_T_LEN], *t;

    t = num + NGX_INT_T_LEN;

    do {
        *--t = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    return ngx_cpymem(p, t, num + NGX_INT_T_LEN - t);
}

ngx_http_llm_part_t *ngx_http_llm_part_add(ngx_http_llm_message_t *msg,
    ngx_uint_t type);
ngx_int_t ngx_http_llm_vbad(ngx_pool_t *pool, const char **error,
    const char *fmt, va_list args);

/* tool call arguments as an object value: {} when not one */
void ngx_http_llm_jw_args(ngx_http_llm_jw_t *jw, ngx_log_t *log,
    ngx_str_t *args);

/* the written JSON as a chain link (NULL on failure) */
ngx_chain_t *ngx_http_llm_jw_chain(ngx_http_llm_jw_t *jw);


/* finish reasons, both ways */
ngx_str_t *ngx_http_llm_finish_openai(ngx_uint_t finish);

/*
 * What a stream cut short is charged for: the generated text of the
 * deltas, and whether the provider's usage was final
 */
static ngx_inline void
ngx_http_llm_delta_account(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_delta_t *delta)
{
    if (delta->type == NGX_HTTP_LLM_DELTA_TEXT
        || delta->type == NGX_HTTP_LLM_DELTA_REASONING
        || delta->type == NGX_HTTP_LLM_DELTA_TOOL_ARGS)
    {
        ctx->generated += delta->text.len;

    } else if (delta->type == NGX_HTTP_LLM_DELTA_USAGE) {
        ctx->usage_final = 1;
    }
}

/* adapters hand canonical results to the client's surface */
#define ngx_http_llm_emit_delta(r, ctx, delta, ll)                           \
    (ngx_http_llm_delta_account(ctx, delta),                                  \
     (ctx)->surf->write_delta(r, ctx, delta, ll))
#define ngx_http_llm_emit_response(r, ctx, resp, out)                        \
    (ctx)->surf->write_response(r, ctx, resp, out)

/* token counting: the answer in the client's format, from a number or
 * from the provider's {"<key>":N} */
ngx_chain_t *ngx_http_llm_count_answer(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_int_t n);
ngx_int_t ngx_http_llm_count_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, const char *key,
    ngx_chain_t **out);

/* a canonical request with its arrays ready */
ngx_http_llm_request_t *ngx_http_llm_request_create(ngx_pool_t *pool);


#endif /* _NGX_HTTP_LLM_CANONICAL_H_INCLUDED_ */
