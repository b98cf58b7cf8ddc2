
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_json.h"


/*
 * The Anthropic Messages surface (POST /v1/messages): parses a request
 * into the canonical request, writes canonical responses, stream deltas
 * (Anthropic SSE events) and errors in Anthropic's format.
 */


#define NGX_HTTP_LLM_ANTHROPIC_ID_LEN     24
#define NGX_HTTP_LLM_ANTHROPIC_MAX_TOOLS  1024

/* the kinds of content block of a stream */
#define NGX_HTTP_LLM_ANTHROPIC_TEXT       1
#define NGX_HTTP_LLM_ANTHROPIC_THINKING   2
#define NGX_HTTP_LLM_ANTHROPIC_TOOL       3
#define NGX_HTTP_LLM_ANTHROPIC_REDACTED   4


/* the state of a stream written to the client */

typedef struct {
    ngx_uint_t                  next;       /* the next block's index */
    ngx_uint_t                  open;       /* the open block's index */
    ngx_uint_t                  open_type;  /* 0: no block is open */
    ngx_uint_t                  open_tool;  /* its tool call index */
    ngx_uint_t                  finish;
    ngx_array_t                 tools;      /* block index by tool index */

    unsigned                    started:1;  /* message_start sent */
    unsigned                    finished:1; /* FINISH seen */
    unsigned                    usage:1;    /* USAGE seen */
    unsigned                    stopped:1;  /* message_stop or error */
    unsigned                    tool_use:1; /* a tool_use block was sent */
} ngx_http_llm_anthropic_out_t;


/* a piece of an event: raw JSON text, or a string to escape */

typedef struct {
    u_char                     *data;
    size_t                      len;
    ngx_uint_t                  escape;
} ngx_http_llm_anthropic_piece_t;


static ngx_int_t ngx_http_llm_anthropic_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_bad(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, const char *fmt, ...);
static ngx_int_t ngx_http_llm_anthropic_number(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js, const char *name,
    ngx_str_t *out);
static ngx_int_t ngx_http_llm_anthropic_system(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_message(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_int_t m, ngx_uint_t k);
static ngx_int_t ngx_http_llm_anthropic_block(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_http_llm_message_t *msg,
    ngx_int_t b, ngx_uint_t k, ngx_uint_t n);
static ngx_int_t ngx_http_llm_anthropic_source(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_message_t *msg, ngx_int_t b, ngx_uint_t image,
    ngx_uint_t k, ngx_uint_t n);
static ngx_int_t ngx_http_llm_anthropic_tool_result(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_http_llm_message_t *user,
    ngx_int_t b, ngx_uint_t k, ngx_uint_t n);
static ngx_int_t ngx_http_llm_anthropic_tools(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_tool_choice(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_thinking(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);

static ngx_int_t ngx_http_llm_anthropic_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out);
static void ngx_http_llm_anthropic_usage(ngx_http_llm_jw_t *jw,
    ngx_http_llm_usage_t *usage);
static ngx_str_t *ngx_http_llm_anthropic_stop_reason(ngx_uint_t finish,
    ngx_uint_t tools);
static ngx_int_t ngx_http_llm_anthropic_make_id(ngx_pool_t *pool,
    const char *prefix, ngx_str_t *id);

static ngx_int_t ngx_http_llm_anthropic_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_event(ngx_http_request_t *r,
    ngx_chain_t ***ll, const char *name,
    ngx_http_llm_anthropic_piece_t *pc, ngx_uint_t n);
static ngx_int_t ngx_http_llm_anthropic_message_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_out_t *st,
    ngx_str_t *id, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_block_start(ngx_http_request_t *r,
    ngx_http_llm_anthropic_out_t *st, ngx_uint_t type, ngx_str_t *id,
    ngx_str_t *name, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_block_delta(ngx_http_request_t *r,
    ngx_uint_t index, ngx_uint_t type, ngx_str_t *text, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_block_stop(ngx_http_request_t *r,
    ngx_http_llm_anthropic_out_t *st, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_tool_start(ngx_http_request_t *r,
    ngx_http_llm_anthropic_out_t *st, ngx_uint_t tool, ngx_str_t *id,
    ngx_str_t *name, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_message_end(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_out_t *st,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_stream_error(ngx_http_request_t *r,
    ngx_http_llm_delta_t *delta, ngx_chain_t ***ll);

static ngx_chain_t *ngx_http_llm_anthropic_write_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code,
    ngx_str_t *message);
static ngx_str_t *ngx_http_llm_anthropic_error_type(ngx_uint_t status);


const ngx_http_llm_surface_t  ngx_http_llm_surface_anthropic = {
    ngx_string("anthropic"),
    ngx_http_llm_anthropic_parse_request,
    ngx_http_llm_anthropic_write_response,
    ngx_http_llm_anthropic_write_delta,
    ngx_http_llm_anthropic_write_error
};


static ngx_str_t  ngx_http_llm_anthropic_stop_reasons[] = {
    ngx_string("end_turn"),                 /* NONE */
    ngx_string("end_turn"),                 /* STOP */
    ngx_string("max_tokens"),               /* LENGTH */
    ngx_string("tool_use"),                 /* TOOL_CALLS */
    ngx_string("refusal")                   /* FILTER */
};


static ngx_str_t  ngx_http_llm_anthropic_error_types[] = {
    ngx_string("invalid_request_error"),
    ngx_string("authentication_error"),
    ngx_string("billing_error"),
    ngx_string("permission_error"),
    ngx_string("not_found_error"),
    ngx_string("request_too_large"),
    ngx_string("rate_limit_error"),
    ngx_string("api_error"),
    ngx_string("overloaded_error"),
    ngx_string("timeout_error"),
    ngx_null_string
};


/* -- the request ---------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_anthropic_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t   rc, i, v, s;
    ngx_str_t  *stop;
    ngx_uint_t  k, n;

    req->model = ctx->model;
    req->stream = ctx->stream;

    /* Anthropic clients always get usage */

    req->include_usage = 1;

    v = ngx_http_llm_json_get(js, 0, "max_tokens");

    /* messages/count_tokens: a Messages body without max_tokens */

    if ((v < 0 || ngx_http_llm_json_is_null(js, v)) && !ctx->count_tokens) {
        return ngx_http_llm_anthropic_bad(r, ctx,
                                          "max_tokens: Field required");
    }

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)
        && ngx_http_llm_json_int(js, v, &req->max_tokens) != NGX_OK)
    {
        return ngx_http_llm_anthropic_bad(r, ctx,
                                          "max_tokens: Input should be a "
                                          "valid integer");
    }

    rc = ngx_http_llm_anthropic_system(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the handler made sure that "messages" is an array */

    v = ngx_http_llm_json_get(js, 0, "messages");
    n = js->toks[v].size;

    for (k = 0, i = v + 1; k < n; k++, i = ngx_http_llm_json_skip(js, i)) {
        rc = ngx_http_llm_anthropic_message(r, ctx, js, req, i, k);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_llm_anthropic_tools(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llm_anthropic_tool_choice(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_llm_anthropic_number(r, ctx, js, "temperature",
                                      &req->temperature)
        != NGX_OK
        || ngx_http_llm_anthropic_number(r, ctx, js, "top_p", &req->top_p)
           != NGX_OK
        || ngx_http_llm_anthropic_number(r, ctx, js, "top_k", &req->top_k)
           != NGX_OK)
    {
        return ctx->error ? NGX_DECLINED : NGX_ERROR;
    }

    v = ngx_http_llm_json_get(js, 0, "stop_sequences");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {

        if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
            return ngx_http_llm_anthropic_bad(r, ctx,
                                              "stop_sequences: Input should "
                                              "be a valid list");
        }

        n = js->toks[v].size;

        for (k = 0, s = v + 1; k < n; k++, s = ngx_http_llm_json_skip(js, s))
        {
            stop = ngx_array_push(&req->stop);
            if (stop == NULL) {
                return NGX_ERROR;
            }

            rc = ngx_http_llm_json_string(r->pool, js, s, stop);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK) {
                return ngx_http_llm_anthropic_bad(r, ctx,
                                                  "stop_sequences.%ui: Input "
                                                  "should be a valid string",
                                                  k);
            }
        }
    }

    v = ngx_http_llm_json_get(js, 0, "metadata");
    v = ngx_http_llm_json_get(js, v, "user_id");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        rc = ngx_http_llm_json_string(r->pool, js, v, &req->user);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx,
                                              "metadata.user_id: Input "
                                              "should be a valid string");
        }
    }

    return ngx_http_llm_anthropic_thinking(r, ctx, js, req);
}


/* ctx->error, formatted; NGX_DECLINED (the request is bad) */

static ngx_int_t
ngx_http_llm_anthropic_bad(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    const char *fmt, ...)
{
    ngx_int_t  rc;
    va_list    args;

    va_start(args, fmt);
    rc = ngx_http_llm_vbad(r->pool, &ctx->error, fmt, args);
    va_end(args);

    return rc;
}


/* a top-level number, copied as its raw JSON text */

static ngx_int_t
ngx_http_llm_anthropic_number(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, const char *name, ngx_str_t *out)
{
    u_char     c;
    ngx_int_t  v;

    v = ngx_http_llm_json_get(js, 0, name);

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    c = js->data[js->toks[v].start];

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_PRIMITIVE
        || !(c == '-' || (c >= '0' && c <= '9')))
    {
        return ngx_http_llm_anthropic_bad(r, ctx, "%s: Input should be a "
                                          "valid number", name);
    }

    ngx_http_llm_json_raw(js, v, out);

    return NGX_OK;
}


/* "system": a string or text blocks, one SYSTEM message first */

static ngx_int_t
ngx_http_llm_anthropic_system(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req)
{
    ngx_int_t                rc, v, b, t;
    ngx_str_t                type, text;
    ngx_uint_t               k, n;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *msg, m;

    v = ngx_http_llm_json_get(js, 0, "system");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    ngx_memzero(&m, sizeof(ngx_http_llm_message_t));
    m.role = NGX_HTTP_LLM_ROLE_SYSTEM;

    if (ngx_array_init(&m.parts, r->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    switch (ngx_http_llm_json_type(js, v)) {

    case NGX_HTTP_LLM_JSON_STRING:

        if (ngx_http_llm_json_string(r->pool, js, v, &text) != NGX_OK) {
            return NGX_ERROR;
        }

        if (text.len == 0) {
            return NGX_OK;
        }

        part = ngx_http_llm_part_add(&m, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        part->text = text;
        break;

    case NGX_HTTP_LLM_JSON_ARRAY:

        n = js->toks[v].size;

        for (k = 0, b = v + 1; k < n; k++, b = ngx_http_llm_json_skip(js, b))
        {
            t = ngx_http_llm_json_get(js, b, "type");

            if (t < 0
                || ngx_http_llm_json_string(r->pool, js, t, &type) != NGX_OK
                || type.len != 4 || ngx_memcmp(type.data, "text", 4) != 0)
            {
                return ngx_http_llm_anthropic_bad(r, ctx,
                                                  "system.%ui: Input should "
                                                  "be a text block", k);
            }

            t = ngx_http_llm_json_get(js, b, "text");
            rc = ngx_http_llm_json_string(r->pool, js, t, &text);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK) {
                return ngx_http_llm_anthropic_bad(r, ctx,
                                                  "system.%ui.text: Field "
                                                  "required", k);
            }

            part = ngx_http_llm_part_add(&m, NGX_HTTP_LLM_PART_TEXT);
            if (part == NULL) {
                return NGX_ERROR;
            }

            part->text = text;
        }

        if (m.parts.nelts == 0) {
            return NGX_OK;
        }

        break;

    default:
        return ngx_http_llm_anthropic_bad(r, ctx, "system: Input should be "
                                          "a valid string or list");
    }

    msg = ngx_array_push(&req->messages);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    *msg = m;

    return NGX_OK;
}


/*
 * One Anthropic message.  A user turn's tool_result blocks become TOOL
 * messages (in order, first, as OpenAI wants them right after the
 * assistant's tool calls), the rest of it one USER message after them.
 */

static ngx_int_t
ngx_http_llm_anthropic_message(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_int_t m, ngx_uint_t k)
{
    ngx_int_t                rc, v, c, b;
    ngx_str_t                role;
    ngx_uint_t               i, n;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t   msg, *p;

    if (ngx_http_llm_json_type(js, m) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui: Input "
                                          "should be a valid dictionary", k);
    }

    ngx_memzero(&msg, sizeof(ngx_http_llm_message_t));

    v = ngx_http_llm_json_get(js, m, "role");

    if (v >= 0 && ngx_http_llm_json_string(r->pool, js, v, &role) == NGX_OK) {

        if (role.len == 4 && ngx_memcmp(role.data, "user", 4) == 0) {
            msg.role = NGX_HTTP_LLM_ROLE_USER;

        } else if (role.len == 9
                   && ngx_memcmp(role.data, "assistant", 9) == 0)
        {
            msg.role = NGX_HTTP_LLM_ROLE_ASSISTANT;
        }
    }

    if (msg.role == 0) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.role: Input "
                                          "should be 'user' or 'assistant'",
                                          k);
    }

    if (ngx_array_init(&msg.parts, r->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (msg.role == NGX_HTTP_LLM_ROLE_ASSISTANT
        && ngx_array_init(&msg.tool_calls, r->pool, 1,
                          sizeof(ngx_http_llm_tool_call_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    c = ngx_http_llm_json_get(js, m, "content");

    if (c < 0) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content: "
                                          "Field required", k);
    }

    switch (ngx_http_llm_json_type(js, c)) {

    case NGX_HTTP_LLM_JSON_STRING:

        part = ngx_http_llm_part_add(&msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_json_string(r->pool, js, c, &part->text) != NGX_OK) {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_LLM_JSON_ARRAY:

        n = js->toks[c].size;

        for (i = 0, b = c + 1; i < n; i++, b = ngx_http_llm_json_skip(js, b))
        {
            rc = ngx_http_llm_anthropic_block(r, ctx, js, req, &msg, b, k, i);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        /* a turn of tool results only, or an empty one */

        if (msg.parts.nelts == 0
            && (msg.role == NGX_HTTP_LLM_ROLE_USER
                || msg.tool_calls.nelts == 0))
        {
            return NGX_OK;
        }

        break;

    default:
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content: "
                                          "Input should be a valid string "
                                          "or list", k);
    }

    p = ngx_array_push(&req->messages);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *p = msg;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_anthropic_block(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req,
    ngx_http_llm_message_t *msg, ngx_int_t b, ngx_uint_t k, ngx_uint_t n)
{
    ngx_int_t                  rc, t, v;
    ngx_str_t                  type;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_tool_call_t  *tc;

    if (ngx_http_llm_json_type(js, b) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content.%ui: "
                                          "Input should be a valid "
                                          "dictionary", k, n);
    }

    t = ngx_http_llm_json_get(js, b, "type");

    if (t < 0 || ngx_http_llm_json_string(r->pool, js, t, &type) != NGX_OK) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content.%ui."
                                          "type: Field required", k, n);
    }

#define ngx_http_llm_is(s)                                                    \
    (type.len == sizeof(s) - 1 && ngx_memcmp(type.data, s, type.len) == 0)

    if (ngx_http_llm_is("text")) {

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(js, b, "text");
        rc = ngx_http_llm_json_string(r->pool, js, v, &part->text);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.text: Field required",
                                              k, n);
        }

        return NGX_OK;
    }

    if (ngx_http_llm_is("image")) {
        return ngx_http_llm_anthropic_source(r, ctx, js, msg, b, 1, k, n);
    }

    if (ngx_http_llm_is("document")) {
        return ngx_http_llm_anthropic_source(r, ctx, js, msg, b, 0, k, n);
    }

    if (ngx_http_llm_is("tool_use")) {

        if (msg->role != NGX_HTTP_LLM_ROLE_ASSISTANT) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui: tool_use blocks are only "
                                              "allowed in assistant "
                                              "messages", k, n);
        }

        tc = ngx_array_push(&msg->tool_calls);
        if (tc == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));

        v = ngx_http_llm_json_get(js, b, "id");
        rc = ngx_http_llm_json_string(r->pool, js, v, &tc->id);

        if (rc == NGX_OK) {
            v = ngx_http_llm_json_get(js, b, "name");
            rc = ngx_http_llm_json_string(r->pool, js, v, &tc->name);
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui: tool_use needs an id and "
                                              "a name", k, n);
        }

        v = ngx_http_llm_json_get(js, b, "input");

        if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
            ngx_http_llm_json_raw(js, v, &tc->arguments);

        } else {
            ngx_str_set(&tc->arguments, "{}");
        }

        return NGX_OK;
    }

    if (ngx_http_llm_is("tool_result")) {

        if (msg->role != NGX_HTTP_LLM_ROLE_USER) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui: tool_result blocks are "
                                              "only allowed in user "
                                              "messages", k, n);
        }

        return ngx_http_llm_anthropic_tool_result(r, ctx, js, req, msg, b,
                                                  k, n);
    }

    if (ngx_http_llm_is("thinking")) {

        part = ngx_http_llm_part_add(msg,
                                           NGX_HTTP_LLM_PART_THINKING);
        if (part == NULL) {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(js, b, "thinking");
        rc = ngx_http_llm_json_string(r->pool, js, v, &part->text);

        if (rc == NGX_OK) {
            v = ngx_http_llm_json_get(js, b, "signature");

            if (v >= 0) {
                rc = ngx_http_llm_json_string(r->pool, js, v,
                                              &part->signature);
            }
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.thinking: Field required",
                                              k, n);
        }

        return NGX_OK;
    }

    if (ngx_http_llm_is("redacted_thinking")) {

        part = ngx_http_llm_part_add(msg,
                                           NGX_HTTP_LLM_PART_REDACTED);
        if (part == NULL) {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(js, b, "data");
        rc = ngx_http_llm_json_string(r->pool, js, v, &part->data);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.data: Field required",
                                              k, n);
        }

        return NGX_OK;
    }

#undef ngx_http_llm_is

    /* server tool blocks, search results, ...: no canonical form */

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm anthropic: \"%V\" block of message %ui "
                   "skipped", &type, k, n);

    return NGX_OK;
}


/*
 * The source of an image or a document block: base64 data, a URL, or
 * (documents) plain text or text blocks.
 */

static ngx_int_t
ngx_http_llm_anthropic_source(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_message_t *msg, ngx_int_t b,
    ngx_uint_t image, ngx_uint_t k, ngx_uint_t n)
{
    ngx_int_t             rc, s, v, t, c;
    ngx_str_t             type;
    ngx_uint_t            i, nb;
    ngx_http_llm_part_t  *part;

    s = ngx_http_llm_json_get(js, b, "source");
    v = ngx_http_llm_json_get(js, s, "type");

    if (v < 0 || ngx_http_llm_json_string(r->pool, js, v, &type) != NGX_OK) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content.%ui."
                                          "source: Field required", k, n);
    }

    if (type.len == 6 && ngx_memcmp(type.data, "base64", 6) == 0) {

        part = ngx_http_llm_part_add(msg, image
                                                   ? NGX_HTTP_LLM_PART_IMAGE
                                                   : NGX_HTTP_LLM_PART_FILE);
        if (part == NULL) {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(js, s, "media_type");
        rc = ngx_http_llm_json_string(r->pool, js, v, &part->media_type);

        if (rc == NGX_OK) {
            v = ngx_http_llm_json_get(js, s, "data");
            rc = ngx_http_llm_json_string(r->pool, js, v, &part->data);
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.source: media_type and "
                                              "data are required", k, n);
        }

        goto title;
    }

    if (type.len == 3 && ngx_memcmp(type.data, "url", 3) == 0) {

        part = ngx_http_llm_part_add(msg, image
                                                   ? NGX_HTTP_LLM_PART_IMAGE
                                                   : NGX_HTTP_LLM_PART_FILE);
        if (part == NULL) {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(js, s, "url");
        rc = ngx_http_llm_json_string(r->pool, js, v, &part->url);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.source.url: Field "
                                              "required", k, n);
        }

        if (!image) {
            ngx_str_set(&part->media_type, "application/pdf");
        }

        goto title;
    }

    if (!image && type.len == 4 && ngx_memcmp(type.data, "text", 4) == 0) {

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(js, s, "data");
        rc = ngx_http_llm_json_string(r->pool, js, v, &part->text);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.source.data: Field "
                                              "required", k, n);
        }

        return NGX_OK;
    }

    if (!image && type.len == 7 && ngx_memcmp(type.data, "content", 7) == 0)
    {
        c = ngx_http_llm_json_get(js, s, "content");

        if (c >= 0 && ngx_http_llm_json_type(js, c) == NGX_HTTP_LLM_JSON_STRING)
        {
            part = ngx_http_llm_part_add(msg,
                                               NGX_HTTP_LLM_PART_TEXT);
            if (part == NULL) {
                return NGX_ERROR;
            }

            return ngx_http_llm_json_string(r->pool, js, c, &part->text)
                   == NGX_OK ? NGX_OK : NGX_ERROR;
        }

        if (c < 0 || ngx_http_llm_json_type(js, c) != NGX_HTTP_LLM_JSON_ARRAY)
        {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.source.content: Field "
                                              "required", k, n);
        }

        nb = js->toks[c].size;

        for (i = 0, t = c + 1; i < nb; i++, t = ngx_http_llm_json_skip(js, t))
        {
            v = ngx_http_llm_json_get(js, t, "text");

            if (v < 0) {
                continue;
            }

            part = ngx_http_llm_part_add(msg,
                                               NGX_HTTP_LLM_PART_TEXT);
            if (part == NULL) {
                return NGX_ERROR;
            }

            if (ngx_http_llm_json_string(r->pool, js, v, &part->text)
                != NGX_OK)
            {
                return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui."
                                                  "content.%ui.source."
                                                  "content.%ui.text: Input "
                                                  "should be a valid string",
                                                  k, n, i);
            }
        }

        return NGX_OK;
    }

    return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content.%ui."
                                      "source: the source type \"%V\" is not "
                                      "supported for this model's provider",
                                      k, n, &type);

title:

    if (!image) {
        v = ngx_http_llm_json_get(js, b, "title");

        if (v >= 0
            && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING
            && ngx_http_llm_json_string(r->pool, js, v, &part->name)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A tool_result block: a TOOL message with the text of its content (a
 * string, or text blocks joined by newlines); its images go to the user
 * message that follows the tool results, as OpenAI tool messages carry
 * text only.
 */

static ngx_int_t
ngx_http_llm_anthropic_tool_result(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_http_llm_message_t *user, ngx_int_t b,
    ngx_uint_t k, ngx_uint_t n)
{
    u_char                  *p;
    size_t                   len;
    ngx_int_t                rc, v, c, e, t;
    ngx_str_t                type, *text;
    ngx_uint_t               i, nb, j, ntexts;
    ngx_array_t              texts;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *msg, m;

    ngx_memzero(&m, sizeof(ngx_http_llm_message_t));
    m.role = NGX_HTTP_LLM_ROLE_TOOL;

    if (ngx_array_init(&m.parts, r->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(js, b, "tool_use_id");
    rc = ngx_http_llm_json_string(r->pool, js, v, &m.tool_call_id);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content.%ui."
                                          "tool_use_id: Field required",
                                          k, n);
    }

    e = ngx_http_llm_json_get(js, b, "is_error");
    m.is_error = (ngx_http_llm_json_bool(js, e) == 1);

    part = ngx_http_llm_part_add(&m, NGX_HTTP_LLM_PART_TEXT);
    if (part == NULL) {
        return NGX_ERROR;
    }

    c = ngx_http_llm_json_get(js, b, "content");

    if (c < 0 || ngx_http_llm_json_is_null(js, c)) {
        goto done;
    }

    if (ngx_http_llm_json_type(js, c) == NGX_HTTP_LLM_JSON_STRING) {
        if (ngx_http_llm_json_string(r->pool, js, c, &part->text) != NGX_OK) {
            return NGX_ERROR;
        }

        goto done;
    }

    if (ngx_http_llm_json_type(js, c) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content.%ui."
                                          "content: Input should be a valid "
                                          "string or list", k, n);
    }

    nb = js->toks[c].size;

    if (ngx_array_init(&texts, r->pool, nb ? nb : 1, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0, t = c + 1; i < nb; i++, t = ngx_http_llm_json_skip(js, t)) {

        v = ngx_http_llm_json_get(js, t, "type");

        if (v < 0 || ngx_http_llm_json_string(r->pool, js, v, &type) != NGX_OK)
        {
            return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui.content."
                                              "%ui.content.%ui.type: Field "
                                              "required", k, n, i);
        }

        if (type.len == 4 && ngx_memcmp(type.data, "text", 4) == 0) {
            text = ngx_array_push(&texts);
            if (text == NULL) {
                return NGX_ERROR;
            }

            v = ngx_http_llm_json_get(js, t, "text");
            rc = ngx_http_llm_json_string(r->pool, js, v, text);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK) {
                return ngx_http_llm_anthropic_bad(r, ctx, "messages.%ui."
                                                  "content.%ui.content.%ui."
                                                  "text: Field required",
                                                  k, n, i);
            }

            continue;
        }

        if ((type.len == 5 && ngx_memcmp(type.data, "image", 5) == 0)
            || (type.len == 8 && ngx_memcmp(type.data, "document", 8) == 0))
        {
            rc = ngx_http_llm_anthropic_source(r, ctx, js, user, t,
                                               type.len == 5, k, n);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    text = texts.elts;
    ntexts = texts.nelts;

    if (ntexts == 1) {
        part->text = text[0];
        goto done;
    }

    if (ntexts > 1) {
        len = ntexts - 1;

        for (j = 0; j < ntexts; j++) {
            len += text[j].len;
        }

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        part->text.data = p;
        part->text.len = len;

        for (j = 0; j < ntexts; j++) {
            if (j) {
                *p++ = LF;
            }

            p = ngx_cpymem(p, text[j].data, text[j].len);
        }
    }

done:

    msg = ngx_array_push(&req->messages);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    *msg = m;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_anthropic_tools(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req)
{
    ngx_int_t             rc, v, t, s;
    ngx_str_t             name;
    ngx_uint_t            k, n;
    ngx_http_llm_tool_t  *tool;

    v = ngx_http_llm_json_get(js, 0, "tools");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_anthropic_bad(r, ctx, "tools: Input should be a "
                                          "valid list");
    }

    n = js->toks[v].size;

    for (k = 0, t = v + 1; k < n; k++, t = ngx_http_llm_json_skip(js, t)) {

        s = ngx_http_llm_json_get(js, t, "name");
        rc = ngx_http_llm_json_string(r->pool, js, s, &name);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_anthropic_bad(r, ctx, "tools.%ui.name: Field "
                                              "required", k);
        }

        s = ngx_http_llm_json_get(js, t, "input_schema");

        if (s < 0) {

            /* a server tool (web_search_..., bash_...): provider-side */

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm: Anthropic server tool \"%V\" is not "
                          "passed to the provider", &name);
            continue;
        }

        if (ngx_http_llm_json_type(js, s) != NGX_HTTP_LLM_JSON_OBJECT) {
            return ngx_http_llm_anthropic_bad(r, ctx, "tools.%ui."
                                              "input_schema: Input should be "
                                              "a valid dictionary", k);
        }

        tool = ngx_array_push(&req->tools);
        if (tool == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tool, sizeof(ngx_http_llm_tool_t));

        tool->name = name;
        ngx_http_llm_json_raw(js, s, &tool->parameters);

        s = ngx_http_llm_json_get(js, t, "description");

        if (s >= 0 && !ngx_http_llm_json_is_null(js, s)
            && ngx_http_llm_json_string(r->pool, js, s, &tool->description)
               != NGX_OK)
        {
            return ngx_http_llm_anthropic_bad(r, ctx, "tools.%ui.description: "
                                              "Input should be a valid "
                                              "string", k);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_anthropic_tool_choice(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t  v, t;
    ngx_str_t  type;

    v = ngx_http_llm_json_get(js, 0, "tool_choice");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    t = ngx_http_llm_json_get(js, v, "type");

    if (t < 0 || ngx_http_llm_json_string(r->pool, js, t, &type) != NGX_OK) {
        return ngx_http_llm_anthropic_bad(r, ctx, "tool_choice.type: Field "
                                          "required");
    }

    if (type.len == 4 && ngx_memcmp(type.data, "auto", 4) == 0) {
        req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_AUTO;

    } else if (type.len == 3 && ngx_memcmp(type.data, "any", 3) == 0) {
        req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_ANY;

    } else if (type.len == 4 && ngx_memcmp(type.data, "none", 4) == 0) {
        req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NONE;

    } else if (type.len == 4 && ngx_memcmp(type.data, "tool", 4) == 0) {
        req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NAMED;

        t = ngx_http_llm_json_get(js, v, "name");

        if (t < 0
            || ngx_http_llm_json_string(r->pool, js, t,
                                        &req->tool_choice_name)
               != NGX_OK)
        {
            return ngx_http_llm_anthropic_bad(r, ctx, "tool_choice.name: "
                                              "Field required");
        }

    } else {
        return ngx_http_llm_anthropic_bad(r, ctx, "tool_choice.type: Input "
                                          "should be 'auto', 'any', 'tool' "
                                          "or 'none'");
    }

    t = ngx_http_llm_json_get(js, v, "disable_parallel_tool_use");

    if (ngx_http_llm_json_bool(js, t) == 1) {
        req->parallel_tool_calls = 0;
    }

    return NGX_OK;
}


/*
 * "thinking": {"type":"enabled","budget_tokens":N}: the budget, and an
 * effort for providers that take one (LiteLLM's budgets the other way:
 * low 1024, medium 2048, high 4096)
 */

static ngx_int_t
ngx_http_llm_anthropic_thinking(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t  v, t, budget;
    ngx_str_t  type;

    v = ngx_http_llm_json_get(js, 0, "thinking");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    t = ngx_http_llm_json_get(js, v, "type");

    if (t < 0 || ngx_http_llm_json_string(r->pool, js, t, &type) != NGX_OK) {
        return ngx_http_llm_anthropic_bad(r, ctx, "thinking.type: Field "
                                          "required");
    }

    if (type.len != 7 || ngx_memcmp(type.data, "enabled", 7) != 0) {
        /* "disabled", "adaptive" */
        return NGX_OK;
    }

    t = ngx_http_llm_json_get(js, v, "budget_tokens");

    if (ngx_http_llm_json_int(js, t, &budget) != NGX_OK) {
        return ngx_http_llm_anthropic_bad(r, ctx, "thinking.enabled."
                                          "budget_tokens: Field required");
    }

    req->thinking_budget = budget;

    if (budget <= 1024) {
        ngx_str_set(&req->reasoning_effort, "low");

    } else if (budget <= 2048) {
        ngx_str_set(&req->reasoning_effort, "medium");

    } else {
        ngx_str_set(&req->reasoning_effort, "high");
    }

    return NGX_OK;
}



/* -- the response --------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_anthropic_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out)
{
    ngx_str_t                  id, *stop;
    ngx_uint_t                 i, tools, finish;
    ngx_http_llm_jw_t          jw;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_tool_call_t  *tc;

    if (resp->usage.known) {
        ctx->usage = resp->usage;
    }

    if (ngx_http_llm_jw_init(&jw, r->pool,
                             512 + resp->text.len + resp->reasoning.len
                             + resp->refusal.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    id = resp->id;

    if (id.len == 0
        && ngx_http_llm_anthropic_make_id(r->pool, "msg_", &id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_llm_jw_lit(&jw, "{\"id\":");
    ngx_http_llm_jw_string(&jw, &id);
    ngx_http_llm_jw_lit(&jw, ",\"type\":\"message\",\"role\":\"assistant\","
                             "\"model\":");
    ngx_http_llm_jw_string(&jw, &ctx->model);
    ngx_http_llm_jw_lit(&jw, ",\"content\":[");

    /* thinking first, as Anthropic's models answer */

    part = resp->thinking.elts;

    for (i = 0; i < resp->thinking.nelts; i++) {

        if (jw.pos[-1] != '[') {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        if (part[i].type == NGX_HTTP_LLM_PART_REDACTED) {
            ngx_http_llm_jw_lit(&jw, "{\"type\":\"redacted_thinking\","
                                     "\"data\":");
            ngx_http_llm_jw_string(&jw, &part[i].data);
            ngx_http_llm_jw_lit(&jw, "}");
            continue;
        }

        ngx_http_llm_jw_lit(&jw, "{\"type\":\"thinking\",\"thinking\":");
        ngx_http_llm_jw_string(&jw, &part[i].text);
        ngx_http_llm_jw_lit(&jw, ",\"signature\":");
        ngx_http_llm_jw_string(&jw, &part[i].signature);
        ngx_http_llm_jw_lit(&jw, "}");
    }

    if (resp->thinking.nelts == 0 && resp->reasoning.len) {
        ngx_http_llm_jw_lit(&jw, "{\"type\":\"thinking\",\"thinking\":");
        ngx_http_llm_jw_string(&jw, &resp->reasoning);
        ngx_http_llm_jw_lit(&jw, ",\"signature\":\"\"}");
    }

    finish = resp->finish;

    if (resp->text.len || resp->refusal.len) {

        if (jw.pos[-1] != '[') {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        ngx_http_llm_jw_lit(&jw, "{\"type\":\"text\",\"text\":");

        if (resp->text.len) {
            ngx_http_llm_jw_string(&jw, &resp->text);

        } else {
            /* an OpenAI refusal: its text is all the client gets */

            ngx_http_llm_jw_string(&jw, &resp->refusal);

            if (finish == NGX_HTTP_LLM_FINISH_STOP
                || finish == NGX_HTTP_LLM_FINISH_NONE)
            {
                finish = NGX_HTTP_LLM_FINISH_FILTER;
            }
        }

        ngx_http_llm_jw_lit(&jw, "}");
    }

    tc = resp->tool_calls.elts;
    tools = resp->tool_calls.nelts;

    for (i = 0; i < tools; i++) {

        if (jw.pos[-1] != '[') {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        id = tc[i].id;

        if (id.len == 0
            && ngx_http_llm_anthropic_make_id(r->pool, "toolu_", &id)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_llm_jw_lit(&jw, "{\"type\":\"tool_use\",\"id\":");
        ngx_http_llm_jw_string(&jw, &id);
        ngx_http_llm_jw_lit(&jw, ",\"name\":");
        ngx_http_llm_jw_string(&jw, &tc[i].name);
        ngx_http_llm_jw_lit(&jw, ",\"input\":");
        ngx_http_llm_jw_args(&jw, r->connection->log, &tc[i].arguments);
        ngx_http_llm_jw_lit(&jw, "}");
    }

    stop = ngx_http_llm_anthropic_stop_reason(finish, tools);

    ngx_http_llm_jw_lit(&jw, "],\"stop_reason\":");
    ngx_http_llm_jw_string(&jw, stop);
    ngx_http_llm_jw_lit(&jw, ",\"stop_sequence\":null,\"usage\":");
    ngx_http_llm_anthropic_usage(&jw, &ctx->usage);
    ngx_http_llm_jw_lit(&jw, "}");

    *out = ngx_http_llm_jw_chain(&jw);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Anthropic's input_tokens exclude cache reads (PROVIDERS.md 0.3):
 * input = prompt - cached
 */

static void
ngx_http_llm_anthropic_usage(ngx_http_llm_jw_t *jw,
    ngx_http_llm_usage_t *usage)
{
    ngx_int_t  input, cached;

    cached = usage->cached;
    input = usage->prompt - cached;

    if (input < 0) {
        input = 0;
    }

    ngx_http_llm_jw_lit(jw, "{\"input_tokens\":");
    ngx_http_llm_jw_int(jw, input);
    ngx_http_llm_jw_lit(jw, ",\"cache_creation_input_tokens\":0,"
                            "\"cache_read_input_tokens\":");
    ngx_http_llm_jw_int(jw, cached);
    ngx_http_llm_jw_lit(jw, ",\"output_tokens\":");
    ngx_http_llm_jw_int(jw, usage->completion);
    ngx_http_llm_jw_lit(jw, "}");
}


/*
 * OpenAI's finish reason as Anthropic's stop_reason (PROVIDERS.md 7.2);
 * an answer with tool calls that says "stop" (Gemini's OpenAI endpoint,
 * some local servers) is "tool_use", which agents wait for
 */

static ngx_str_t *
ngx_http_llm_anthropic_stop_reason(ngx_uint_t finish, ngx_uint_t tools)
{
    if (finish > NGX_HTTP_LLM_FINISH_FILTER) {
        finish = NGX_HTTP_LLM_FINISH_STOP;
    }

    if (tools && (finish == NGX_HTTP_LLM_FINISH_STOP
                  || finish == NGX_HTTP_LLM_FINISH_NONE))
    {
        finish = NGX_HTTP_LLM_FINISH_TOOL_CALLS;
    }

    return &ngx_http_llm_anthropic_stop_reasons[finish];
}


/* "msg_" or "toolu_" and 24 random base62 characters */

static ngx_int_t
ngx_http_llm_anthropic_make_id(ngx_pool_t *pool, const char *prefix,
    ngx_str_t *id)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    static u_char  chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz";

    len = ngx_strlen(prefix);

    p = ngx_pnalloc(pool, len + NGX_HTTP_LLM_ANTHROPIC_ID_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    id->data = p;
    id->len = len + NGX_HTTP_LLM_ANTHROPIC_ID_LEN;

    p = ngx_cpymem(p, prefix, len);

    for (i = 0; i < NGX_HTTP_LLM_ANTHROPIC_ID_LEN; i++) {
        *p++ = chars[(ngx_uint_t) ngx_random() % (sizeof(chars) - 1)];
    }

    return NGX_OK;
}


/* -- the stream ----------------------------------------------------------- */


/*
 * Canonical deltas as Anthropic events (PROVIDERS.md 7.9, "OpenAI chunks
 * -> Anthropic SSE"): message_start first; content blocks opened lazily
 * and numbered 0..n in order, one open at a time; message_delta (with
 * usage) and message_stop once, after the finish and the usage (or at
 * the end of the stream); an error event ends the stream.
 */

static ngx_int_t
ngx_http_llm_anthropic_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    ngx_int_t                      *bi;
    ngx_uint_t                      i;
    ngx_http_llm_anthropic_out_t   *st;

    st = ctx->out_state;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_anthropic_out_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        if (ngx_array_init(&st->tools, r->pool, 4, sizeof(ngx_int_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->out_state = st;
    }

    if (st->stopped) {
        return NGX_OK;
    }

    if (delta->type == NGX_HTTP_LLM_DELTA_ERROR) {
        st->stopped = 1;
        return ngx_http_llm_anthropic_stream_error(r, delta, ll);
    }

    if (!st->started) {
        if (ngx_http_llm_anthropic_message_start(r, ctx, st,
                                                 delta->type
                                                 == NGX_HTTP_LLM_DELTA_START
                                                 ? &delta->id : NULL, ll)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    switch (delta->type) {

    case NGX_HTTP_LLM_DELTA_START:
        return NGX_OK;

    case NGX_HTTP_LLM_DELTA_TEXT:
    case NGX_HTTP_LLM_DELTA_REASONING:
    case NGX_HTTP_LLM_DELTA_SIGNATURE:

        if (delta->text.len == 0 || st->finished) {
            return NGX_OK;
        }

        i = (delta->type == NGX_HTTP_LLM_DELTA_TEXT)
            ? NGX_HTTP_LLM_ANTHROPIC_TEXT : NGX_HTTP_LLM_ANTHROPIC_THINKING;

        if (st->open_type != i
            && ngx_http_llm_anthropic_block_start(r, st, i, NULL, NULL, ll)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_llm_anthropic_block_delta(r, st->open, delta->type,
                                                  &delta->text, ll);

    case NGX_HTTP_LLM_DELTA_REDACTED:

        /* a whole block: started with its data, stopped at once */

        if (delta->text.len == 0 || st->finished) {
            return NGX_OK;
        }

        if (ngx_http_llm_anthropic_block_start(r, st,
                                               NGX_HTTP_LLM_ANTHROPIC_REDACTED,
                                               &delta->text, NULL, ll)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_llm_anthropic_block_stop(r, st, ll);

    case NGX_HTTP_LLM_DELTA_TOOL_START:

        if (st->finished) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_tool_start(r, st, delta->index,
                                                 &delta->id, &delta->name,
                                                 ll);

    case NGX_HTTP_LLM_DELTA_TOOL_ARGS:

        if (delta->text.len == 0 || st->finished) {
            return NGX_OK;
        }

        bi = st->tools.elts;

        if (st->open_type == NGX_HTTP_LLM_ANTHROPIC_TOOL
            && st->open_tool == delta->index)
        {
            i = st->open;

        } else if (delta->index < st->tools.nelts && bi[delta->index] >= 0) {

            /*
             * a piece of a call whose block was closed (parallel calls
             * interleaved): SDKs accumulate by index
             */

            i = bi[delta->index];

        } else {
            /* no start was seen for this call */

            if (ngx_http_llm_anthropic_tool_start(r, st, delta->index, NULL,
                                                  NULL, ll)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            i = st->open;
        }

        return ngx_http_llm_anthropic_block_delta(r, i, delta->type,
                                                  &delta->text, ll);

    case NGX_HTTP_LLM_DELTA_FINISH:

        if (st->open_type
            && ngx_http_llm_anthropic_block_stop(r, st, ll) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (!st->finished || delta->finish != NGX_HTTP_LLM_FINISH_NONE) {
            st->finish = delta->finish;
        }

        st->finished = 1;

        if (!st->usage) {
            /* wait for the usage: it comes in the next chunk (OpenAI) */
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_message_end(r, ctx, st, ll);

    case NGX_HTTP_LLM_DELTA_USAGE:

        st->usage = 1;

        if (!st->finished) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_message_end(r, ctx, st, ll);

    case NGX_HTTP_LLM_DELTA_DONE:
        return ngx_http_llm_anthropic_message_end(r, ctx, st, ll);

    default:
        return NGX_OK;
    }
}


/* "event: NAME\ndata: <pieces>\n\n" in a recycled buffer */

static ngx_int_t
ngx_http_llm_anthropic_event(ngx_http_request_t *r, ngx_chain_t ***ll,
    const char *name, ngx_http_llm_anthropic_piece_t *pc, ngx_uint_t n)
{
    size_t        size, nlen;
    ngx_buf_t    *b;
    ngx_uint_t    i;
    ngx_chain_t  *cl;

    nlen = ngx_strlen(name);
    size = sizeof("event: \ndata: \n\n") - 1 + nlen;

    for (i = 0; i < n; i++) {
        size += pc[i].escape
                ? ngx_http_llm_json_escape_len(pc[i].data, pc[i].len)
                : pc[i].len;
    }

    cl = ngx_http_llm_get_buf(r, size);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    b->last = ngx_cpymem(b->last, "event: ", sizeof("event: ") - 1);
    b->last = ngx_cpymem(b->last, name, nlen);
    b->last = ngx_cpymem(b->last, "\ndata: ", sizeof("\ndata: ") - 1);

    for (i = 0; i < n; i++) {
        if (pc[i].escape) {
            b->last = ngx_http_llm_json_escape(b->last, pc[i].data,
                                               pc[i].len);

        } else {
            b->last = ngx_cpymem(b->last, pc[i].data, pc[i].len);
        }
    }

    *b->last++ = LF;
    *b->last++ = LF;

    b->flush = 1;

    **ll = cl;
    *ll = &cl->next;

    return NGX_OK;
}


#define ngx_http_llm_piece(pc, s, e)                                          \
    (pc)->data = (u_char *) (s); (pc)->len = sizeof(s) - 1; (pc)->escape = e

#define ngx_http_llm_piece_str(pc, str, e)                                    \
    (pc)->data = (str)->data; (pc)->len = (str)->len; (pc)->escape = e

static ngx_int_t
ngx_http_llm_anthropic_message_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_out_t *st, ngx_str_t *id,
    ngx_chain_t ***ll)
{
    u_char                          *p;
    ngx_int_t                        input, cached;
    ngx_str_t                        mid;
    ngx_http_llm_anthropic_piece_t   pc[5];
    u_char                           tail[192 + 2 * NGX_INT_T_LEN];

    st->started = 1;

    if (id && id->len) {
        mid = *id;

    } else if (ngx_http_llm_anthropic_make_id(r->pool, "msg_", &mid)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* an OpenAI stream tells the usage at its end: zeros until then */

    cached = ctx->usage.known ? ctx->usage.cached : 0;
    input = ctx->usage.known ? ctx->usage.prompt - cached : 0;

    if (input < 0) {
        input = 0;
    }

    p = ngx_sprintf(tail, "\",\"content\":[],\"stop_reason\":null,"
                    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":%i,"
                    "\"cache_creation_input_tokens\":0,"
                    "\"cache_read_input_tokens\":%i,\"output_tokens\":0}}}",
                    input, cached);

    ngx_http_llm_piece(&pc[0], "{\"type\":\"message_start\",\"message\":"
                               "{\"id\":\"", 0);
    ngx_http_llm_piece_str(&pc[1], &mid, 1);
    ngx_http_llm_piece(&pc[2], "\",\"type\":\"message\",\"role\":"
                               "\"assistant\",\"model\":\"", 0);
    ngx_http_llm_piece_str(&pc[3], &ctx->model, 1);

    pc[4].data = tail;
    pc[4].len = p - tail;
    pc[4].escape = 0;

    return ngx_http_llm_anthropic_event(r, ll, "message_start", pc, 5);
}


/* closes the open block, opens the next one */

static ngx_int_t
ngx_http_llm_anthropic_block_start(ngx_http_request_t *r,
    ngx_http_llm_anthropic_out_t *st, ngx_uint_t type, ngx_str_t *id,
    ngx_str_t *name, ngx_chain_t ***ll)
{
    u_char                          *p;
    ngx_uint_t                       n;
    ngx_http_llm_anthropic_piece_t   pc[6];
    u_char                           head[80 + NGX_INT_T_LEN];

    if (st->open_type
        && ngx_http_llm_anthropic_block_stop(r, st, ll) != NGX_OK)
    {
        return NGX_ERROR;
    }

    st->open = st->next++;
    st->open_type = type;

    p = ngx_sprintf(head, "{\"type\":\"content_block_start\",\"index\":%ui,"
                    "\"content_block\":", st->open);

    pc[0].data = head;
    pc[0].len = p - head;
    pc[0].escape = 0;

    switch (type) {

    case NGX_HTTP_LLM_ANTHROPIC_TEXT:
        ngx_http_llm_piece(&pc[1], "{\"type\":\"text\",\"text\":\"\"}}", 0);
        n = 2;
        break;

    case NGX_HTTP_LLM_ANTHROPIC_THINKING:
        ngx_http_llm_piece(&pc[1], "{\"type\":\"thinking\",\"thinking\":\"\","
                                   "\"signature\":\"\"}}", 0);
        n = 2;
        break;

    case NGX_HTTP_LLM_ANTHROPIC_REDACTED:
        /* id: the opaque data, byte-exact */
        ngx_http_llm_piece(&pc[1], "{\"type\":\"redacted_thinking\","
                                   "\"data\":\"", 0);
        ngx_http_llm_piece_str(&pc[2], id, 1);
        ngx_http_llm_piece(&pc[3], "\"}}", 0);
        n = 4;
        break;

    default: /* NGX_HTTP_LLM_ANTHROPIC_TOOL */
        st->tool_use = 1;

        ngx_http_llm_piece(&pc[1], "{\"type\":\"tool_use\",\"id\":\"", 0);
        ngx_http_llm_piece_str(&pc[2], id, 1);
        ngx_http_llm_piece(&pc[3], "\",\"name\":\"", 0);
        ngx_http_llm_piece_str(&pc[4], name, 1);
        ngx_http_llm_piece(&pc[5], "\",\"input\":{}}}", 0);
        n = 6;
    }

    return ngx_http_llm_anthropic_event(r, ll, "content_block_start", pc, n);
}


static ngx_int_t
ngx_http_llm_anthropic_block_delta(ngx_http_request_t *r, ngx_uint_t index,
    ngx_uint_t type, ngx_str_t *text, ngx_chain_t ***ll)
{
    u_char                          *p;
    ngx_http_llm_anthropic_piece_t   pc[4];
    u_char                           head[80 + NGX_INT_T_LEN];

    p = ngx_cpymem(head, "{\"type\":\"content_block_delta\",\"index\":",
                   sizeof("{\"type\":\"content_block_delta\",\"index\":") - 1);
    p = ngx_http_llm_write_uint(p, index);
    p = ngx_cpymem(p, ",\"delta\":", sizeof(",\"delta\":") - 1);

    pc[0].data = head;
    pc[0].len = p - head;
    pc[0].escape = 0;

    switch (type) {

    case NGX_HTTP_LLM_DELTA_TEXT:
        ngx_http_llm_piece(&pc[1], "{\"type\":\"text_delta\",\"text\":\"", 0);
        break;

    case NGX_HTTP_LLM_DELTA_REASONING:
        ngx_http_llm_piece(&pc[1], "{\"type\":\"thinking_delta\","
                                   "\"thinking\":\"", 0);
        break;

    case NGX_HTTP_LLM_DELTA_SIGNATURE:
        ngx_http_llm_piece(&pc[1], "{\"type\":\"signature_delta\","
                                   "\"signature\":\"", 0);
        break;

    default: /* NGX_HTTP_LLM_DELTA_TOOL_ARGS */
        ngx_http_llm_piece(&pc[1], "{\"type\":\"input_json_delta\","
                                   "\"partial_json\":\"", 0);
    }

    ngx_http_llm_piece_str(&pc[2], text, 1);
    ngx_http_llm_piece(&pc[3], "\"}}", 0);

    return ngx_http_llm_anthropic_event(r, ll, "content_block_delta", pc, 4);
}


static ngx_int_t
ngx_http_llm_anthropic_block_stop(ngx_http_request_t *r,
    ngx_http_llm_anthropic_out_t *st, ngx_chain_t ***ll)
{
    u_char                          *p;
    ngx_http_llm_anthropic_piece_t   pc;
    u_char                           buf[64 + NGX_INT_T_LEN];

    st->open_type = 0;

    p = ngx_sprintf(buf, "{\"type\":\"content_block_stop\",\"index\":%ui}",
                    st->open);

    pc.data = buf;
    pc.len = p - buf;
    pc.escape = 0;

    return ngx_http_llm_anthropic_event(r, ll, "content_block_stop", &pc, 1);
}


/* a tool_use block for the call "tool" (its index among the calls) */

static ngx_int_t
ngx_http_llm_anthropic_tool_start(ngx_http_request_t *r,
    ngx_http_llm_anthropic_out_t *st, ngx_uint_t tool, ngx_str_t *id,
    ngx_str_t *name, ngx_chain_t ***ll)
{
    ngx_int_t  *bi;
    ngx_str_t   tid, empty;

    if (tool >= NGX_HTTP_LLM_ANTHROPIC_MAX_TOOLS) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: provider sent tool call index %ui", tool);
        return NGX_ERROR;
    }

    while (st->tools.nelts <= tool) {
        bi = ngx_array_push(&st->tools);
        if (bi == NULL) {
            return NGX_ERROR;
        }

        *bi = -1;
    }

    bi = st->tools.elts;

    if (bi[tool] >= 0) {
        /* the call was started already */
        return NGX_OK;
    }

    if (id && id->len) {
        tid = *id;

    } else if (ngx_http_llm_anthropic_make_id(r->pool, "toolu_", &tid)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_null(&empty);

    if (ngx_http_llm_anthropic_block_start(r, st, NGX_HTTP_LLM_ANTHROPIC_TOOL,
                                           &tid, name ? name : &empty, ll)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    st->open_tool = tool;
    bi[tool] = st->open;

    return NGX_OK;
}


/* message_delta with the stop reason and the usage, then message_stop */

static ngx_int_t
ngx_http_llm_anthropic_message_end(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_out_t *st,
    ngx_chain_t ***ll)
{
    u_char                          *p;
    ngx_int_t                        input, cached;
    ngx_str_t                       *stop;
    ngx_http_llm_anthropic_piece_t   pc[3];
    u_char                           usage[160 + 3 * NGX_INT_T_LEN];

    if (st->open_type
        && ngx_http_llm_anthropic_block_stop(r, st, ll) != NGX_OK)
    {
        return NGX_ERROR;
    }

    st->stopped = 1;

    stop = ngx_http_llm_anthropic_stop_reason(st->finish, st->tool_use);

    cached = ctx->usage.cached;
    input = ctx->usage.prompt - cached;

    if (input < 0) {
        input = 0;
    }

    p = ngx_sprintf(usage, "\",\"stop_sequence\":null},\"usage\":"
                    "{\"input_tokens\":%i,\"cache_creation_input_tokens\":0,"
                    "\"cache_read_input_tokens\":%i,\"output_tokens\":%i}}",
                    input, cached, ctx->usage.completion);

    ngx_http_llm_piece(&pc[0], "{\"type\":\"message_delta\",\"delta\":"
                               "{\"stop_reason\":\"", 0);
    ngx_http_llm_piece_str(&pc[1], stop, 0);

    pc[2].data = usage;
    pc[2].len = p - usage;
    pc[2].escape = 0;

    if (ngx_http_llm_anthropic_event(r, ll, "message_delta", pc, 3)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_llm_piece(&pc[0], "{\"type\":\"message_stop\"}", 0);

    return ngx_http_llm_anthropic_event(r, ll, "message_stop", pc, 1);
}


static ngx_int_t
ngx_http_llm_anthropic_stream_error(ngx_http_request_t *r,
    ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    ngx_str_t                       *type, *t, message;
    ngx_http_llm_anthropic_piece_t   pc[5];

    type = NULL;

    if (delta->status) {
        type = ngx_http_llm_anthropic_error_type(delta->status);

    } else {
        for (t = ngx_http_llm_anthropic_error_types; t->len; t++) {
            if (t->len == delta->error_type.len
                && ngx_memcmp(t->data, delta->error_type.data, t->len) == 0)
            {
                type = t;
                break;
            }
        }

        if (type == NULL) {
            type = ngx_http_llm_anthropic_error_type(
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
        }
    }

    message = delta->error_message;

    if (message.len == 0) {
        ngx_str_set(&message, "The model provider returned an error.");
    }

    ngx_http_llm_piece(&pc[0], "{\"type\":\"error\",\"error\":{\"type\":\"", 0);
    ngx_http_llm_piece_str(&pc[1], type, 0);
    ngx_http_llm_piece(&pc[2], "\",\"message\":\"", 0);
    ngx_http_llm_piece_str(&pc[3], &message, 1);
    ngx_http_llm_piece(&pc[4], "\"}}", 0);

    return ngx_http_llm_anthropic_event(r, ll, "error", pc, 5);
}


/* -- errors --------------------------------------------------------------- */


/* {"type":"error","error":{"type":T,"message":M}}, T by the status */

static ngx_chain_t *
ngx_http_llm_anthropic_write_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *message)
{
    size_t        len;
    ngx_buf_t    *b;
    ngx_str_t    *t;
    ngx_chain_t  *cl;

    t = ngx_http_llm_anthropic_error_type(status);

    len = sizeof("{\"type\":\"error\",\"error\":{\"type\":\"\","
                 "\"message\":\"\"}}\n") - 1
          + t->len
          + ngx_http_llm_json_escape_len(message->data, message->len);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_cpymem(b->last, "{\"type\":\"error\",\"error\":{\"type\":\"",
                         sizeof("{\"type\":\"error\",\"error\":{\"type\":\"")
                         - 1);
    b->last = ngx_cpymem(b->last, t->data, t->len);
    b->last = ngx_cpymem(b->last, "\",\"message\":\"",
                         sizeof("\",\"message\":\"") - 1);
    b->last = ngx_http_llm_json_escape(b->last, message->data, message->len);
    b->last = ngx_cpymem(b->last, "\"}}\n", 4);

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/* Anthropic's error types by HTTP status (PROVIDERS.md 2.7, 7.10) */

static ngx_str_t *
ngx_http_llm_anthropic_error_type(ngx_uint_t status)
{
    ngx_uint_t  i;

    switch (status) {
    case NGX_HTTP_UNAUTHORIZED:
        i = 1;
        break;
    case 402:
        i = 2;
        break;
    case NGX_HTTP_FORBIDDEN:
        i = 3;
        break;
    case NGX_HTTP_NOT_FOUND:
        i = 4;
        break;
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        i = 5;
        break;
    case NGX_HTTP_TOO_MANY_REQUESTS:
        i = 6;
        break;
    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case 529:
        i = 8;
        break;
    case NGX_HTTP_GATEWAY_TIME_OUT:
        i = 9;
        break;
    default:
        i = (status >= 500) ? 7 : 0;
    }

    return &ngx_http_llm_anthropic_error_types[i];
}
