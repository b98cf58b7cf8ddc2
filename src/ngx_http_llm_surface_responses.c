
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_error.h"
#include "ngx_http_llm_openai.h"


/*
 * The OpenAI Responses surface (POST /v1/responses): parses a request
 * ("input" as a string or items, "instructions", function tools,
 * function_call and function_call_output items, "text.format",
 * "reasoning") into the canonical request, and writes canonical
 * responses as Response objects, stream deltas as the typed Responses
 * events (response.created ... response.completed) and errors in
 * OpenAI's format.
 *
 * The gateway keeps no state: "previous_response_id", "conversation"
 * and item references are refused, "store" is accepted and nothing is
 * stored.  Every provider is reached through the canonical request,
 * OpenAI-format ones too (a passthrough to the OpenAI targets that
 * speak Responses natively is left for later).
 *
 * A stream keeps the text and arguments it has sent (the ".done"
 * events and response.completed repeat them), in pool buffers bounded
 * by llm_max_response_size.
 */


#define NGX_HTTP_LLM_RESPONSES_MAX_TOOLS   1024

/* output items */
#define NGX_HTTP_LLM_RESPONSES_MESSAGE     1
#define NGX_HTTP_LLM_RESPONSES_REASONING   2
#define NGX_HTTP_LLM_RESPONSES_CALL        3

/* the state of a Response object */
#define NGX_HTTP_LLM_RESPONSES_PROGRESS    0
#define NGX_HTTP_LLM_RESPONSES_DONE        1
#define NGX_HTTP_LLM_RESPONSES_FAILED      2


typedef struct {
    ngx_uint_t                  type;
    ngx_uint_t                  tool;       /* canonical tool call index */
    ngx_uint_t                  index;      /* output_index */
    ngx_str_t                   id;
    ngx_str_t                   call_id;
    ngx_str_t                   name;
    ngx_str_t                   text;       /* text, summary, arguments */
    size_t                      text_cap;
    ngx_str_t                   signature;  /* reasoning: encrypted */
    size_t                      sig_cap;
    unsigned                    refusal:1;  /* message: a refusal */
    unsigned                    redacted:1; /* reasoning: opaque only */
    unsigned                    part:1;     /* summary part added */
    unsigned                    done:1;
} ngx_http_llm_responses_item_t;


/* ctx->out_state: made by the parser, used by the writers */

typedef struct {
    /* request fields the Response object repeats, raw JSON */
    ngx_str_t                   instructions;   /* unescaped */
    ngx_str_t                   tools;
    ngx_str_t                   tool_choice;
    ngx_str_t                   text;
    ngx_str_t                   reasoning;
    ngx_str_t                   metadata;
    unsigned                    store:1;
    unsigned                    has_instructions:1;
    unsigned                    choice_string:1;

    /* the output */
    ngx_str_t                   id;
    time_t                      created;
    ngx_array_t                 items;      /* responses_item_t */
    ngx_int_t                   open;       /* open item, -1: none */
    ngx_uint_t                  seq;        /* sequence_number */
    ngx_uint_t                  finish;
    size_t                      total;      /* bytes kept */
    size_t                      max;

    ngx_int_t                   asst;       /* parser: assistant turn */

    unsigned                    started:1;
    unsigned                    finished:1;
    unsigned                    usage:1;
    unsigned                    stopped:1;
} ngx_http_llm_responses_st_t;


typedef struct {
    u_char                     *data;
    size_t                      len;
    ngx_uint_t                  escape;
} ngx_http_llm_responses_piece_t;


static ngx_int_t ngx_http_llm_responses_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_responses_bad(ngx_http_llm_ctx_t *ctx,
    ngx_pool_t *pool, const char *fmt, ...);
static ngx_int_t ngx_http_llm_responses_number(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js, const char *name,
    ngx_str_t *out);
static ngx_int_t ngx_http_llm_responses_item(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_int_t v, ngx_uint_t k);
static ngx_int_t ngx_http_llm_responses_content(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_message_t *msg, ngx_int_t c, ngx_uint_t k);
static ngx_int_t ngx_http_llm_responses_part(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_message_t *msg, ngx_int_t v, ngx_uint_t k, ngx_uint_t n);
static ngx_int_t ngx_http_llm_responses_reasoning_item(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_message_t *msg, ngx_int_t v, ngx_uint_t k);
static ngx_http_llm_message_t *ngx_http_llm_responses_assistant(
    ngx_http_request_t *r, ngx_http_llm_request_t *req,
    ngx_http_llm_responses_st_t *st);
static void ngx_http_llm_responses_flush(ngx_http_llm_request_t *req,
    ngx_http_llm_responses_st_t *st);
static ngx_http_llm_message_t *ngx_http_llm_responses_message(
    ngx_http_request_t *r, ngx_http_llm_request_t *req,
    ngx_http_llm_responses_st_t *st, ngx_uint_t role);
static ngx_int_t ngx_http_llm_responses_tools(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_responses_tool_choice(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_responses_options(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_responses_data_uri(ngx_str_t *uri,
    ngx_str_t *media_type, ngx_str_t *data);

static ngx_int_t ngx_http_llm_responses_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out);
static ngx_http_llm_responses_st_t *ngx_http_llm_responses_state(
    ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_responses_echo(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_responses_st_t *st);
static ngx_http_llm_responses_item_t *ngx_http_llm_responses_add_item(
    ngx_http_request_t *r, ngx_http_llm_responses_st_t *st,
    ngx_uint_t type);
static void ngx_http_llm_responses_object(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_responses_st_t *st, ngx_http_llm_jw_t *jw,
    ngx_uint_t state, ngx_http_llm_delta_t *error);
static void ngx_http_llm_responses_item_json(ngx_http_llm_jw_t *jw,
    ngx_http_llm_responses_item_t *it, ngx_uint_t full);
static void ngx_http_llm_responses_usage(ngx_http_llm_jw_t *jw,
    ngx_http_llm_usage_t *usage);

static ngx_int_t ngx_http_llm_responses_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_responses_event(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll, const char *name,
    ngx_http_llm_responses_piece_t *pc, ngx_uint_t n);
static ngx_int_t ngx_http_llm_responses_response_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_responses_st_t *st,
    ngx_chain_t ***ll, const char *name, ngx_uint_t state,
    ngx_http_llm_delta_t *error);
static ngx_int_t ngx_http_llm_responses_item_event(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll, const char *name,
    ngx_http_llm_responses_item_t *it, ngx_uint_t full);
static ngx_int_t ngx_http_llm_responses_text_event(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll, const char *name,
    ngx_http_llm_responses_item_t *it, const char *key, ngx_str_t *text,
    const char *tail);
static ngx_int_t ngx_http_llm_responses_open(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_uint_t type, ngx_uint_t tool,
    ngx_str_t *id, ngx_str_t *name, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_responses_close(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_responses_append(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_str_t *s, size_t *cap,
    ngx_str_t *add);
static ngx_int_t ngx_http_llm_responses_end(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_responses_st_t *st,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_responses_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_responses_st_t *st,
    ngx_http_llm_delta_t *delta, ngx_chain_t ***ll);

static ngx_chain_t *ngx_http_llm_responses_write_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code,
    ngx_str_t *message);


const ngx_http_llm_surface_t  ngx_http_llm_surface_responses = {
    ngx_string("responses"),
    ngx_http_llm_responses_parse_request,
    ngx_http_llm_responses_write_response,
    ngx_http_llm_responses_write_delta,
    ngx_http_llm_responses_write_error
};


#define ngx_http_llm_str_is(str, s)                                           \
    ((str)->len == sizeof(s) - 1                                              \
     && ngx_memcmp((str)->data, s, sizeof(s) - 1) == 0)


/* -- the request ---------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_responses_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t                     rc, v, i;
    ngx_str_t                     text;
    ngx_uint_t                    k, n;
    ngx_http_llm_part_t          *part;
    ngx_http_llm_message_t       *msg;
    ngx_http_llm_responses_st_t  *st;

    st = ngx_http_llm_responses_state(r, ctx);
    if (st == NULL) {
        return NGX_ERROR;
    }

    req->model = ctx->model;
    req->stream = ctx->stream;

    /* response.completed and the Response object always carry usage */

    req->include_usage = 1;

    /* the gateway keeps no conversation state */

    v = ngx_http_llm_json_get(js, 0, "previous_response_id");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "'previous_response_id' is not supported: this gateway "
                   "keeps no conversation state (responses are not "
                   "stored). Send the whole conversation in 'input', "
                   "including the previous output items.");
    }

    v = ngx_http_llm_json_get(js, 0, "conversation");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "'conversation' is not supported: this gateway keeps "
                   "no conversation state. Send the whole conversation in "
                   "'input'.");
    }

    v = ngx_http_llm_json_get(js, 0, "background");

    if (ngx_http_llm_json_bool(js, v) == 1) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "'background' is not supported: this gateway keeps no "
                   "responses to poll later.");
    }

    v = ngx_http_llm_json_get(js, 0, "prompt");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "'prompt' (a stored prompt template) is not supported "
                   "by this gateway: send 'instructions' and 'input'.");
    }

    /* "store": accepted, nothing is stored; "metadata": ignored */

    /* "instructions": a SYSTEM message first */

    v = ngx_http_llm_json_get(js, 0, "instructions");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {

        rc = ngx_http_llm_json_string(r->pool, js, v, &text);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid type for 'instructions': expected a "
                       "string.");
        }

        if (text.len) {
            msg = ngx_http_llm_responses_message(r, req, st,
                                                 NGX_HTTP_LLM_ROLE_SYSTEM);
            if (msg == NULL) {
                return NGX_ERROR;
            }

            part = ngx_http_llm_part_add(msg,
                                                   NGX_HTTP_LLM_PART_TEXT);
            if (part == NULL) {
                return NGX_ERROR;
            }

            part->text = text;
        }
    }

    /* "input": a string, or items */

    v = ngx_http_llm_json_get(js, 0, "input");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Missing required parameter: 'input' (this gateway "
                   "keeps no conversation state: the whole conversation "
                   "is sent in 'input').");
    }

    switch (ngx_http_llm_json_type(js, v)) {

    case NGX_HTTP_LLM_JSON_STRING:

        msg = ngx_http_llm_responses_message(r, req, st,
                                             NGX_HTTP_LLM_ROLE_USER);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_json_string(r->pool, js, v, &part->text) != NGX_OK) {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_LLM_JSON_ARRAY:

        n = js->toks[v].size;

        for (k = 0, i = v + 1; k < n; k++, i = ngx_http_llm_json_skip(js, i))
        {
            rc = ngx_http_llm_responses_item(r, ctx, js, req, i, k);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        ngx_http_llm_responses_flush(req, st);

        break;

    default:
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid type for 'input': expected a string or an "
                   "array of input items.");
    }

    if (req->messages.nelts == 0) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid 'input': the input is empty.");
    }

    rc = ngx_http_llm_responses_tools(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llm_responses_tool_choice(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llm_responses_options(r, ctx, js, req);
}


/* ctx->error, formatted; NGX_DECLINED (the request is bad) */

static ngx_int_t
ngx_http_llm_responses_bad(ngx_http_llm_ctx_t *ctx, ngx_pool_t *pool,
    const char *fmt, ...)
{
    ngx_int_t  rc;
    va_list    args;

    va_start(args, fmt);
    rc = ngx_http_llm_vbad(pool, &ctx->error, fmt, args);
    va_end(args);

    return rc;
}


/* a top-level number, copied as its raw JSON text */

static ngx_int_t
ngx_http_llm_responses_number(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
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
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid type for '%s': expected a number.", name);
    }

    ngx_http_llm_json_raw(js, v, out);

    return NGX_OK;
}


/*
 * One input item.  Consecutive assistant items (reasoning, an assistant
 * message, function calls) make one ASSISTANT message; a
 * function_call_output is a TOOL message.
 */

static ngx_int_t
ngx_http_llm_responses_item(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req, ngx_int_t v,
    ngx_uint_t k)
{
    ngx_int_t                     t, c, a;
    ngx_str_t                     type, role;
    ngx_uint_t                    r_role;
    ngx_http_llm_message_t       *msg;
    ngx_http_llm_tool_call_t     *tc;
    ngx_http_llm_responses_st_t  *st;

    st = ctx->out_state;

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid 'input[%ui]': expected an object.", k);
    }

    t = ngx_http_llm_json_get(js, v, "type");

    if (t >= 0) {
        if (ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid type for 'input[%ui].type': expected a "
                       "string.", k);
        }

        ngx_http_llm_json_raw(js, t, &type);

    } else {
        /* an "easy" message: {"role": ..., "content": ...} */
        ngx_str_set(&type, "message");
    }

    if (ngx_http_llm_str_is(&type, "message")) {

        t = ngx_http_llm_json_get(js, v, "role");

        if (t < 0 || ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING)
        {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Missing required parameter: 'input[%ui].role'.", k);
        }

        ngx_http_llm_json_raw(js, t, &role);

        if (ngx_http_llm_str_is(&role, "user")) {
            r_role = NGX_HTTP_LLM_ROLE_USER;

        } else if (ngx_http_llm_str_is(&role, "assistant")) {
            r_role = NGX_HTTP_LLM_ROLE_ASSISTANT;

        } else if (ngx_http_llm_str_is(&role, "system")
                   || ngx_http_llm_str_is(&role, "developer"))
        {
            r_role = NGX_HTTP_LLM_ROLE_SYSTEM;

        } else {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid value for 'input[%ui].role': expected "
                       "'user', 'assistant', 'system' or 'developer'.", k);
        }

        if (r_role == NGX_HTTP_LLM_ROLE_ASSISTANT) {
            msg = ngx_http_llm_responses_assistant(r, req, st);

        } else {
            msg = ngx_http_llm_responses_message(r, req, st, r_role);
        }

        if (msg == NULL) {
            return NGX_ERROR;
        }

        c = ngx_http_llm_json_get(js, v, "content");

        if (c < 0) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Missing required parameter: 'input[%ui].content'.",
                       k);
        }

        return ngx_http_llm_responses_content(r, ctx, js, msg, c, k);
    }

    if (ngx_http_llm_str_is(&type, "function_call")) {

        msg = ngx_http_llm_responses_assistant(r, req, st);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        tc = ngx_array_push(&msg->tool_calls);
        if (tc == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));

        if (ngx_http_llm_json_string(r->pool, js,
                                     ngx_http_llm_json_get(js, v, "call_id"),
                                     &tc->id)
            != NGX_OK
            || ngx_http_llm_json_string(r->pool, js,
                                        ngx_http_llm_json_get(js, v, "name"),
                                        &tc->name)
               != NGX_OK)
        {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid 'input[%ui]': a function_call needs a "
                       "'call_id' and a 'name' (strings).", k);
        }

        a = ngx_http_llm_json_get(js, v, "arguments");

        if (a >= 0 && ngx_http_llm_json_type(js, a)
                      == NGX_HTTP_LLM_JSON_STRING)
        {
            if (ngx_http_llm_json_string(r->pool, js, a, &tc->arguments)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (a >= 0 && !ngx_http_llm_json_is_null(js, a)) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid type for 'input[%ui].arguments': expected "
                       "a string.", k);
        }

        if (tc->arguments.len == 0) {
            ngx_str_set(&tc->arguments, "{}");
        }

        return NGX_OK;
    }

    if (ngx_http_llm_str_is(&type, "function_call_output")) {

        msg = ngx_http_llm_responses_message(r, req, st,
                                             NGX_HTTP_LLM_ROLE_TOOL);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_json_string(r->pool, js,
                                     ngx_http_llm_json_get(js, v, "call_id"),
                                     &msg->tool_call_id)
            != NGX_OK)
        {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Missing required parameter: 'input[%ui].call_id'.",
                       k);
        }

        c = ngx_http_llm_json_get(js, v, "output");

        if (c < 0) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Missing required parameter: 'input[%ui].output'.",
                       k);
        }

        return ngx_http_llm_responses_content(r, ctx, js, msg, c, k);
    }

    if (ngx_http_llm_str_is(&type, "reasoning")) {

        msg = ngx_http_llm_responses_assistant(r, req, st);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_llm_responses_reasoning_item(r, ctx, js, msg, v, k);
    }

    if (ngx_http_llm_str_is(&type, "item_reference")) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid 'input[%ui]': item references are not "
                   "supported, this gateway keeps no conversation state. "
                   "Send the items themselves.", k);
    }

    return ngx_http_llm_responses_bad(ctx, r->pool,
               "Invalid 'input[%ui].type': \"%*s\" items are not supported "
               "by this gateway (message, function_call, "
               "function_call_output and reasoning items are).", k,
               ngx_min(type.len, 64), type.data);
}


/* message content or a function_call_output's output */

static ngx_int_t
ngx_http_llm_responses_content(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_message_t *msg, ngx_int_t c, ngx_uint_t k)
{
    ngx_int_t             rc, p;
    ngx_uint_t            i, n;
    ngx_http_llm_part_t  *part;

    switch (ngx_http_llm_json_type(js, c)) {

    case NGX_HTTP_LLM_JSON_STRING:

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_llm_json_string(r->pool, js, c, &part->text)
               == NGX_OK ? NGX_OK : NGX_ERROR;

    case NGX_HTTP_LLM_JSON_ARRAY:

        n = js->toks[c].size;

        for (i = 0, p = c + 1; i < n; i++, p = ngx_http_llm_json_skip(js, p))
        {
            rc = ngx_http_llm_responses_part(r, ctx, js, msg, p, k, i);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        return NGX_OK;

    default:
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid type for 'input[%ui].content': expected a "
                   "string or an array of content parts.", k);
    }
}


static ngx_int_t
ngx_http_llm_responses_part(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_message_t *msg, ngx_int_t v,
    ngx_uint_t k, ngx_uint_t n)
{
    ngx_int_t             rc, t;
    ngx_str_t             type, url;
    ngx_http_llm_part_t  *part;

    t = ngx_http_llm_json_get(js, v, "type");

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_OBJECT
        || t < 0 || ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING)
    {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid 'input[%ui].content[%ui]': expected an object "
                   "with a \"type\".", k, n);
    }

    ngx_http_llm_json_raw(js, t, &type);

    if (ngx_http_llm_str_is(&type, "input_text")
        || ngx_http_llm_str_is(&type, "output_text")
        || ngx_http_llm_str_is(&type, "text")
        || ngx_http_llm_str_is(&type, "refusal"))
    {
        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        t = ngx_http_llm_json_get(js, v, type.data[0] == 'r' ? "refusal"
                                                              : "text");
        rc = ngx_http_llm_json_string(r->pool, js, t, &part->text);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid 'input[%ui].content[%ui]': expected a "
                       "string \"%s\".", k, n,
                       type.data[0] == 'r' ? "refusal" : "text");
        }

        return NGX_OK;
    }

    if (ngx_http_llm_str_is(&type, "input_image")) {

        t = ngx_http_llm_json_get(js, v, "image_url");

        if (t < 0 || ngx_http_llm_json_is_null(js, t)) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid 'input[%ui].content[%ui]': only images by "
                       "'image_url' (a URL or a data URL) can be sent; "
                       "uploaded files ('file_id') belong to OpenAI.", k, n);
        }

        if (ngx_http_llm_json_string(r->pool, js, t, &url) != NGX_OK) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid type for 'input[%ui].content[%ui]."
                       "image_url': expected a string.", k, n);
        }

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_IMAGE);
        if (part == NULL) {
            return NGX_ERROR;
        }

        if (url.len > 5
            && ngx_strncasecmp(url.data, (u_char *) "data:", 5) == 0)
        {
            if (ngx_http_llm_responses_data_uri(&url, &part->media_type,
                                                &part->data)
                != NGX_OK)
            {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Invalid 'input[%ui].content[%ui].image_url': a "
                           "data URL must be base64 "
                           "(data:<type>;base64,...).", k, n);
            }

            return NGX_OK;
        }

        part->url = url;

        return NGX_OK;
    }

    if (ngx_http_llm_str_is(&type, "input_file")) {

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_FILE);
        if (part == NULL) {
            return NGX_ERROR;
        }

        t = ngx_http_llm_json_get(js, v, "filename");

        if (t >= 0 && !ngx_http_llm_json_is_null(js, t)
            && ngx_http_llm_json_string(r->pool, js, t, &part->name)
               != NGX_OK)
        {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid type for 'input[%ui].content[%ui]."
                       "filename': expected a string.", k, n);
        }

        t = ngx_http_llm_json_get(js, v, "file_data");

        if (t >= 0 && !ngx_http_llm_json_is_null(js, t)) {

            if (ngx_http_llm_json_string(r->pool, js, t, &url) != NGX_OK) {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Invalid type for 'input[%ui].content[%ui]."
                           "file_data': expected a string.", k, n);
            }

            if (url.len > 5
                && ngx_strncasecmp(url.data, (u_char *) "data:", 5) == 0)
            {
                if (ngx_http_llm_responses_data_uri(&url, &part->media_type,
                                                    &part->data)
                    != NGX_OK)
                {
                    return ngx_http_llm_responses_bad(ctx, r->pool,
                               "Invalid 'input[%ui].content[%ui]."
                               "file_data': a data URL must be base64.",
                               k, n);
                }

                return NGX_OK;
            }

            /* bare base64: a PDF */

            ngx_str_set(&part->media_type, "application/pdf");
            part->data = url;

            return NGX_OK;
        }

        t = ngx_http_llm_json_get(js, v, "file_url");

        if (t >= 0 && !ngx_http_llm_json_is_null(js, t)) {

            if (ngx_http_llm_json_string(r->pool, js, t, &part->url)
                != NGX_OK)
            {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Invalid type for 'input[%ui].content[%ui]."
                           "file_url': expected a string.", k, n);
            }

            ngx_str_set(&part->media_type, "application/pdf");

            return NGX_OK;
        }

        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid 'input[%ui].content[%ui]': only 'file_data' "
                   "or 'file_url' can be sent; uploaded files ('file_id') "
                   "belong to OpenAI.", k, n);
    }

    return ngx_http_llm_responses_bad(ctx, r->pool,
               "Invalid 'input[%ui].content[%ui].type': \"%*s\" is not "
               "supported.", k, n, ngx_min(type.len, 64), type.data);
}


/*
 * A reasoning item: a THINKING part (the summary or reasoning text, the
 * encrypted_content as its signature), a REDACTED one (what this surface
 * wrote as "redacted:" and the opaque data), or nothing (a bare id)
 */

static ngx_int_t
ngx_http_llm_responses_reasoning_item(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_message_t *msg, ngx_int_t v, ngx_uint_t k)
{
    u_char               *p;
    ngx_int_t             s, e, t;
    ngx_str_t             enc, text, all;
    ngx_uint_t            i, n, pass;
    ngx_http_llm_part_t  *part;

    ngx_str_null(&enc);
    ngx_str_null(&all);

    e = ngx_http_llm_json_get(js, v, "encrypted_content");

    if (e >= 0 && !ngx_http_llm_json_is_null(js, e)
        && ngx_http_llm_json_string(r->pool, js, e, &enc) != NGX_OK)
    {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid type for 'input[%ui].encrypted_content': "
                   "expected a string.", k);
    }

    if (enc.len > sizeof("redacted:") - 1
        && ngx_memcmp(enc.data, "redacted:", sizeof("redacted:") - 1) == 0)
    {
        part = ngx_http_llm_part_add(msg,
                                               NGX_HTTP_LLM_PART_REDACTED);
        if (part == NULL) {
            return NGX_ERROR;
        }

        part->data.data = enc.data + sizeof("redacted:") - 1;
        part->data.len = enc.len - (sizeof("redacted:") - 1);

        return NGX_OK;
    }

    /* the summary texts joined (or the reasoning content) */

    s = ngx_http_llm_json_get(js, v, "summary");

    if (s < 0 || ngx_http_llm_json_type(js, s) != NGX_HTTP_LLM_JSON_ARRAY
        || js->toks[s].size == 0)
    {
        s = ngx_http_llm_json_get(js, v, "content");
    }

    if (s >= 0 && ngx_http_llm_json_type(js, s) == NGX_HTTP_LLM_JSON_ARRAY) {

        n = js->toks[s].size;

        for (pass = 0; pass < 2; pass++) {

            p = all.data;

            for (i = 0, t = s + 1; i < n;
                 i++, t = ngx_http_llm_json_skip(js, t))
            {
                if (ngx_http_llm_json_string(r->pool, js,
                                             ngx_http_llm_json_get(js, t,
                                                                   "text"),
                                             &text)
                    != NGX_OK)
                {
                    continue;
                }

                if (pass == 0) {
                    all.len += text.len + (all.len ? 2 : 0);
                    continue;
                }

                if (p != all.data) {
                    *p++ = LF;
                    *p++ = LF;
                }

                p = ngx_cpymem(p, text.data, text.len);
            }

            if (pass == 0) {
                if (all.len == 0) {
                    break;
                }

                all.data = ngx_pnalloc(r->pool, all.len);
                if (all.data == NULL) {
                    return NGX_ERROR;
                }
            }
        }
    }

    if (all.len == 0 && enc.len == 0) {
        /* nothing a provider could use */
        return NGX_OK;
    }

    part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_THINKING);
    if (part == NULL) {
        return NGX_ERROR;
    }

    part->text = all;
    part->signature = enc;

    return NGX_OK;
}


/* the assistant message that collects consecutive assistant items */

static ngx_http_llm_message_t *
ngx_http_llm_responses_assistant(ngx_http_request_t *r,
    ngx_http_llm_request_t *req, ngx_http_llm_responses_st_t *st)
{
    ngx_http_llm_message_t  *msg;

    if (st->asst >= 0) {
        msg = req->messages.elts;
        return &msg[st->asst];
    }

    msg = ngx_http_llm_responses_message(r, req, st,
                                         NGX_HTTP_LLM_ROLE_ASSISTANT);
    if (msg == NULL) {
        return NULL;
    }

    if (ngx_array_init(&msg->tool_calls, r->pool, 1,
                       sizeof(ngx_http_llm_tool_call_t))
        != NGX_OK)
    {
        return NULL;
    }

    st->asst = req->messages.nelts - 1;

    return msg;
}


/* the assistant turn ends: one of reasoning only is dropped */

static void
ngx_http_llm_responses_flush(ngx_http_llm_request_t *req,
    ngx_http_llm_responses_st_t *st)
{
    ngx_uint_t               i;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *msg;

    if (st->asst < 0) {
        return;
    }

    msg = req->messages.elts;
    msg = &msg[st->asst];

    st->asst = -1;

    if (msg->tool_calls.nelts || msg != (ngx_http_llm_message_t *)
                                        req->messages.elts
                                        + req->messages.nelts - 1)
    {
        return;
    }

    part = msg->parts.elts;

    for (i = 0; i < msg->parts.nelts; i++) {
        if (part[i].type != NGX_HTTP_LLM_PART_THINKING
            && part[i].type != NGX_HTTP_LLM_PART_REDACTED)
        {
            return;
        }
    }

    req->messages.nelts--;
}


static ngx_http_llm_message_t *
ngx_http_llm_responses_message(ngx_http_request_t *r,
    ngx_http_llm_request_t *req, ngx_http_llm_responses_st_t *st,
    ngx_uint_t role)
{
    ngx_http_llm_message_t  *msg;

    ngx_http_llm_responses_flush(req, st);

    msg = ngx_array_push(&req->messages);
    if (msg == NULL) {
        return NULL;
    }

    ngx_memzero(msg, sizeof(ngx_http_llm_message_t));
    msg->role = role;

    if (ngx_array_init(&msg->parts, r->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK)
    {
        return NULL;
    }

    return msg;
}


/* "tools": function tools only, flat ({"type":"function","name":...}) */

static ngx_int_t
ngx_http_llm_responses_tools(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req)
{
    ngx_int_t                     v, t, s;
    ngx_str_t                     type;
    ngx_uint_t                    k, n;
    ngx_http_llm_tool_t          *tool;

    v = ngx_http_llm_json_get(js, 0, "tools");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid type for 'tools': expected an array.");
    }

    n = js->toks[v].size;

    for (k = 0, t = v + 1; k < n; k++, t = ngx_http_llm_json_skip(js, t)) {

        s = ngx_http_llm_json_get(js, t, "type");

        if (s < 0 || ngx_http_llm_json_type(js, s) != NGX_HTTP_LLM_JSON_STRING)
        {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Missing required parameter: 'tools[%ui].type'.", k);
        }

        ngx_http_llm_json_raw(js, s, &type);

        if (!ngx_http_llm_str_is(&type, "function")) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid 'tools[%ui].type': \"%*s\" tools are not "
                       "supported by this gateway, only \"function\" tools "
                       "(hosted tools run at OpenAI).", k,
                       ngx_min(type.len, 64), type.data);
        }

        tool = ngx_array_push(&req->tools);
        if (tool == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tool, sizeof(ngx_http_llm_tool_t));

        if (ngx_http_llm_json_string(r->pool, js,
                                     ngx_http_llm_json_get(js, t, "name"),
                                     &tool->name)
            != NGX_OK)
        {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Missing required parameter: 'tools[%ui].name'.", k);
        }

        s = ngx_http_llm_json_get(js, t, "description");

        if (s >= 0 && !ngx_http_llm_json_is_null(js, s)
            && ngx_http_llm_json_string(r->pool, js, s, &tool->description)
               != NGX_OK)
        {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid type for 'tools[%ui].description': expected "
                       "a string.", k);
        }

        s = ngx_http_llm_json_get(js, t, "parameters");

        if (s >= 0 && !ngx_http_llm_json_is_null(js, s)) {

            if (ngx_http_llm_json_type(js, s) != NGX_HTTP_LLM_JSON_OBJECT) {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Invalid type for 'tools[%ui].parameters': "
                           "expected an object.", k);
            }

            ngx_http_llm_json_raw(js, s, &tool->parameters);
        }

        /* "strict": no canonical form, the schema is sent as it is */
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_responses_tool_choice(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t                     v, t;
    ngx_str_t                     s;

    v = ngx_http_llm_json_get(js, 0, "tool_choice");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {

        ngx_http_llm_json_raw(js, v, &s);

        if (ngx_http_llm_str_is(&s, "auto")) {
            req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_AUTO;

        } else if (ngx_http_llm_str_is(&s, "none")) {
            req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NONE;

        } else if (ngx_http_llm_str_is(&s, "required")) {
            req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_ANY;

        } else {
            goto bad;
        }

        return NGX_OK;
    }

    t = ngx_http_llm_json_get(js, v, "type");

    if (t < 0 || ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING) {
        goto bad;
    }

    ngx_http_llm_json_raw(js, t, &s);

    if (!ngx_http_llm_str_is(&s, "function")) {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid 'tool_choice.type': \"%*s\" is not supported by "
                   "this gateway, only \"function\".",
                   ngx_min(s.len, 64), s.data);
    }

    if (ngx_http_llm_json_string(r->pool, js,
                                 ngx_http_llm_json_get(js, v, "name"),
                                 &req->tool_choice_name)
        != NGX_OK)
    {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Missing required parameter: 'tool_choice.name'.");
    }

    req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NAMED;

    return NGX_OK;

bad:

    return ngx_http_llm_responses_bad(ctx, r->pool,
               "Invalid 'tool_choice': expected 'auto', 'none', 'required' "
               "or {\"type\": \"function\", \"name\": ...}.");
}


/* text.format, reasoning, max_output_tokens, sampling, user */

static ngx_int_t
ngx_http_llm_responses_options(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t                     v, f, t;
    ngx_str_t                     s;

    v = ngx_http_llm_json_get(js, 0, "parallel_tool_calls");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        req->parallel_tool_calls = ngx_http_llm_json_bool(js, v);

        if (req->parallel_tool_calls < 0) {
            return ngx_http_llm_responses_bad(ctx, r->pool,
                       "Invalid type for 'parallel_tool_calls': expected a "
                       "boolean.");
        }
    }

    v = ngx_http_llm_json_get(js, 0, "max_output_tokens");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)
        && (ngx_http_llm_json_int(js, v, &req->max_tokens) != NGX_OK
            || req->max_tokens < 1))
    {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid 'max_output_tokens': expected a positive "
                   "integer.");
    }

    if (ngx_http_llm_responses_number(r, ctx, js, "temperature",
                                      &req->temperature)
        != NGX_OK
        || ngx_http_llm_responses_number(r, ctx, js, "top_p", &req->top_p)
           != NGX_OK)
    {
        return ctx->error ? NGX_DECLINED : NGX_ERROR;
    }

    v = ngx_http_llm_json_get(js, 0, "user");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        v = ngx_http_llm_json_get(js, 0, "safety_identifier");
    }

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)
        && ngx_http_llm_json_string(r->pool, js, v, &req->user) != NGX_OK)
    {
        return ngx_http_llm_responses_bad(ctx, r->pool,
                   "Invalid type for 'user': expected a string.");
    }

    /* "text": {"format": {"type": "text|json_object|json_schema"}} */

    v = ngx_http_llm_json_get(js, 0, "text");

    if (v >= 0 && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_OBJECT) {

        f = ngx_http_llm_json_get(js, v, "format");
        t = ngx_http_llm_json_get(js, f, "type");

        if (f >= 0 && !ngx_http_llm_json_is_null(js, f)) {

            if (t < 0
                || ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING)
            {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Missing required parameter: "
                           "'text.format.type'.");
            }

            ngx_http_llm_json_raw(js, t, &s);

            if (ngx_http_llm_str_is(&s, "json_object")) {
                req->format = NGX_HTTP_LLM_FORMAT_JSON;

            } else if (ngx_http_llm_str_is(&s, "json_schema")) {
                req->format = NGX_HTTP_LLM_FORMAT_SCHEMA;

                t = ngx_http_llm_json_get(js, f, "schema");

                if (t < 0
                    || ngx_http_llm_json_type(js, t)
                       != NGX_HTTP_LLM_JSON_OBJECT)
                {
                    return ngx_http_llm_responses_bad(ctx, r->pool,
                               "Missing required parameter: "
                               "'text.format.schema' (an object).");
                }

                ngx_http_llm_json_raw(js, t, &req->schema);

                if (ngx_http_llm_json_string(r->pool, js,
                                             ngx_http_llm_json_get(js, f,
                                                                   "name"),
                                             &req->schema_name)
                    != NGX_OK)
                {
                    return ngx_http_llm_responses_bad(ctx, r->pool,
                               "Missing required parameter: "
                               "'text.format.name'.");
                }

                t = ngx_http_llm_json_get(js, f, "strict");

                if (t >= 0 && !ngx_http_llm_json_is_null(js, t)) {
                    req->schema_strict = ngx_http_llm_json_bool(js, t);
                }

            } else if (!ngx_http_llm_str_is(&s, "text")) {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Invalid 'text.format.type': expected 'text', "
                           "'json_object' or 'json_schema'.");
            }
        }
    }

    /* "reasoning": {"effort": ...}; "summary" is always what we have */

    v = ngx_http_llm_json_get(js, 0, "reasoning");

    if (v >= 0 && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_OBJECT) {

        t = ngx_http_llm_json_get(js, v, "effort");

        if (t >= 0 && !ngx_http_llm_json_is_null(js, t)) {

            if (ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING) {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Invalid type for 'reasoning.effort': expected a "
                           "string.");
            }

            ngx_http_llm_json_raw(js, t, &s);

            if (ngx_http_llm_str_is(&s, "minimal")) {
                ngx_str_set(&req->reasoning_effort, "low");

            } else if (ngx_http_llm_str_is(&s, "low")
                       || ngx_http_llm_str_is(&s, "medium")
                       || ngx_http_llm_str_is(&s, "high"))
            {
                req->reasoning_effort = s;

            } else if (ngx_http_llm_str_is(&s, "xhigh")) {
                ngx_str_set(&req->reasoning_effort, "high");

            } else if (!ngx_http_llm_str_is(&s, "none")) {
                return ngx_http_llm_responses_bad(ctx, r->pool,
                           "Invalid 'reasoning.effort': expected 'none', "
                           "'minimal', 'low', 'medium' or 'high'.");
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_responses_data_uri(ngx_str_t *uri, ngx_str_t *media_type,
    ngx_str_t *data)
{
    u_char  *p, *last, *comma;

    p = uri->data + 5;
    last = uri->data + uri->len;

    comma = ngx_strlchr(p, last, ',');

    if (comma == NULL || comma - p < 7
        || ngx_strncasecmp(comma - 7, (u_char *) ";base64", 7) != 0)
    {
        return NGX_DECLINED;
    }

    media_type->data = p;
    media_type->len = comma - 7 - p;

    p = ngx_strlchr(media_type->data, media_type->data + media_type->len, ';');

    if (p) {
        media_type->len = p - media_type->data;
    }

    data->data = comma + 1;
    data->len = last - comma - 1;

    return NGX_OK;
}



/* -- the response --------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_responses_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out)
{
    ngx_uint_t                      i;
    ngx_http_llm_jw_t               jw;
    ngx_http_llm_part_t            *part;
    ngx_http_llm_tool_call_t       *tc;
    ngx_http_llm_responses_st_t    *st;
    ngx_http_llm_responses_item_t  *it;

    st = ngx_http_llm_responses_state(r, ctx);
    if (st == NULL) {
        return NGX_ERROR;
    }

    if (resp->usage.known) {
        ctx->usage = resp->usage;
    }

    st->finish = resp->finish;
    st->items.nelts = 0;

    /* reasoning first, as the models answer */

    part = resp->thinking.elts;

    for (i = 0; i < resp->thinking.nelts; i++) {

        it = ngx_http_llm_responses_add_item(r, st,
                                         NGX_HTTP_LLM_RESPONSES_REASONING);
        if (it == NULL) {
            return NGX_ERROR;
        }

        if (part[i].type == NGX_HTTP_LLM_PART_REDACTED) {
            it->redacted = 1;
            it->signature = part[i].data;

        } else {
            it->text = part[i].text;
            it->signature = part[i].signature;
        }
    }

    if (resp->thinking.nelts == 0 && resp->reasoning.len) {
        it = ngx_http_llm_responses_add_item(r, st,
                                         NGX_HTTP_LLM_RESPONSES_REASONING);
        if (it == NULL) {
            return NGX_ERROR;
        }

        it->text = resp->reasoning;
    }

    if (resp->text.len || resp->refusal.len) {
        it = ngx_http_llm_responses_add_item(r, st,
                                             NGX_HTTP_LLM_RESPONSES_MESSAGE);
        if (it == NULL) {
            return NGX_ERROR;
        }

        if (resp->text.len) {
            it->text = resp->text;

        } else {
            it->text = resp->refusal;
            it->refusal = 1;
        }
    }

    tc = resp->tool_calls.elts;

    for (i = 0; i < resp->tool_calls.nelts; i++) {

        it = ngx_http_llm_responses_add_item(r, st,
                                             NGX_HTTP_LLM_RESPONSES_CALL);
        if (it == NULL) {
            return NGX_ERROR;
        }

        it->tool = i;
        it->name = tc[i].name;
        it->text = tc[i].arguments;

        if (tc[i].id.len) {
            it->call_id = tc[i].id;

        } else if (ngx_http_llm_openai_make_id(r->pool, "call_", &it->call_id)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_llm_jw_init(&jw, r->pool,
                             1024 + resp->text.len + resp->reasoning.len
                             + resp->refusal.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_llm_responses_object(ctx, st, &jw, NGX_HTTP_LLM_RESPONSES_DONE,
                                  NULL);

    *out = ngx_http_llm_jw_chain(&jw);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* ctx->out_state, made once */

static ngx_http_llm_responses_st_t *
ngx_http_llm_responses_state(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_http_llm_loc_conf_t      *llcf;
    ngx_http_llm_responses_st_t  *st;

    if (ctx->out_state) {
        return ctx->out_state;
    }

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_responses_st_t));
    if (st == NULL) {
        return NULL;
    }

    if (ngx_array_init(&st->items, r->pool, 4,
                       sizeof(ngx_http_llm_responses_item_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_http_llm_openai_make_id(r->pool, "resp_", &st->id) != NGX_OK) {
        return NULL;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    st->max = llcf->max_response_size;
    st->created = ngx_time();
    st->open = -1;
    st->asst = -1;

    ctx->out_state = st;

    if (ngx_http_llm_responses_echo(r, ctx, st) != NGX_OK) {
        return NULL;
    }

    return st;
}


/*
 * The request fields a Response object repeats, from the request's
 * tokens (the state is made again when a retry starts over)
 */

static ngx_int_t
ngx_http_llm_responses_echo(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_responses_st_t *st)
{
    ngx_int_t             v;
    ngx_http_llm_json_t  *js;

    if (ngx_http_llm_request_json(r, ctx, &js) != NGX_OK) {
        return NGX_OK;
    }

    v = ngx_http_llm_json_get(js, 0, "instructions");

    if (v >= 0 && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
        if (ngx_http_llm_json_string(r->pool, js, v, &st->instructions)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        st->has_instructions = 1;
    }

    v = ngx_http_llm_json_get(js, 0, "store");
    st->store = (ngx_http_llm_json_bool(js, v) == 1);

#define ngx_http_llm_echo(name, type, field)                                  \
    v = ngx_http_llm_json_get(js, 0, name);                                   \
    if (v >= 0 && ngx_http_llm_json_type(js, v) == type) {                    \
        ngx_http_llm_json_raw(js, v, field);                                  \
    }

    ngx_http_llm_echo("metadata", NGX_HTTP_LLM_JSON_OBJECT, &st->metadata);
    ngx_http_llm_echo("tools", NGX_HTTP_LLM_JSON_ARRAY, &st->tools);
    ngx_http_llm_echo("text", NGX_HTTP_LLM_JSON_OBJECT, &st->text);
    ngx_http_llm_echo("reasoning", NGX_HTTP_LLM_JSON_OBJECT, &st->reasoning);

#undef ngx_http_llm_echo

    v = ngx_http_llm_json_get(js, 0, "tool_choice");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        ngx_http_llm_json_raw(js, v, &st->tool_choice);
        st->choice_string = (ngx_http_llm_json_type(js, v)
                             == NGX_HTTP_LLM_JSON_STRING);
    }

    return NGX_OK;
}


static ngx_http_llm_responses_item_t *
ngx_http_llm_responses_add_item(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_uint_t type)
{
    const char                     *prefix;
    ngx_http_llm_responses_item_t  *it;

    it = ngx_array_push(&st->items);
    if (it == NULL) {
        return NULL;
    }

    ngx_memzero(it, sizeof(ngx_http_llm_responses_item_t));

    it->type = type;
    it->index = st->items.nelts - 1;
    it->done = !st->started;    /* a whole response: all done */

    switch (type) {
    case NGX_HTTP_LLM_RESPONSES_MESSAGE:
        prefix = "msg_";
        break;
    case NGX_HTTP_LLM_RESPONSES_REASONING:
        prefix = "rs_";
        break;
    default:
        prefix = "fc_";
    }

    if (ngx_http_llm_openai_make_id(r->pool, prefix, &it->id) != NGX_OK) {
        return NULL;
    }

    return it;
}


/*
 * A Response object: in progress (no output yet), done (completed, or
 * incomplete on a length or content filter finish) or failed.  The
 * request's tools, tool_choice, text and reasoning are repeated as the
 * client sent them.
 */

static void
ngx_http_llm_responses_object(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_responses_st_t *st, ngx_http_llm_jw_t *jw,
    ngx_uint_t state, ngx_http_llm_delta_t *error)
{
    ngx_str_t                      *s, code;
    ngx_uint_t                      i;
    ngx_http_llm_request_t         *req;
    ngx_http_llm_responses_item_t  *it;

    req = ctx->req;

    ngx_http_llm_jw_lit(jw, "{\"id\":");
    ngx_http_llm_jw_string(jw, &st->id);
    ngx_http_llm_jw_lit(jw, ",\"object\":\"response\",\"created_at\":");
    ngx_http_llm_jw_int(jw, st->created);
    ngx_http_llm_jw_lit(jw, ",\"status\":");

    if (state == NGX_HTTP_LLM_RESPONSES_PROGRESS) {
        ngx_http_llm_jw_lit(jw, "\"in_progress\"");

    } else if (state == NGX_HTTP_LLM_RESPONSES_FAILED) {
        ngx_http_llm_jw_lit(jw, "\"failed\"");

    } else if (st->finish == NGX_HTTP_LLM_FINISH_LENGTH
               || st->finish == NGX_HTTP_LLM_FINISH_FILTER)
    {
        ngx_http_llm_jw_lit(jw, "\"incomplete\"");

    } else {
        ngx_http_llm_jw_lit(jw, "\"completed\"");
    }

    ngx_http_llm_jw_lit(jw, ",\"background\":false,\"error\":");

    if (error) {
        code = error->error_code.len ? error->error_code : error->error_type;

        if (code.len == 0) {
            ngx_str_set(&code, "server_error");
        }

        ngx_http_llm_jw_lit(jw, "{\"code\":");
        ngx_http_llm_jw_string(jw, &code);
        ngx_http_llm_jw_lit(jw, ",\"message\":");
        ngx_http_llm_jw_string(jw, &error->error_message);
        ngx_http_llm_jw_lit(jw, "}");

    } else {
        ngx_http_llm_jw_lit(jw, "null");
    }

    ngx_http_llm_jw_lit(jw, ",\"incomplete_details\":");

    if (state == NGX_HTTP_LLM_RESPONSES_DONE
        && st->finish == NGX_HTTP_LLM_FINISH_LENGTH)
    {
        ngx_http_llm_jw_lit(jw, "{\"reason\":\"max_output_tokens\"}");

    } else if (state == NGX_HTTP_LLM_RESPONSES_DONE
               && st->finish == NGX_HTTP_LLM_FINISH_FILTER)
    {
        ngx_http_llm_jw_lit(jw, "{\"reason\":\"content_filter\"}");

    } else {
        ngx_http_llm_jw_lit(jw, "null");
    }

    ngx_http_llm_jw_lit(jw, ",\"instructions\":");

    if (st->has_instructions) {
        ngx_http_llm_jw_string(jw, &st->instructions);

    } else {
        ngx_http_llm_jw_lit(jw, "null");
    }

    ngx_http_llm_jw_lit(jw, ",\"max_output_tokens\":");

    if (req && req->max_tokens >= 0) {
        ngx_http_llm_jw_int(jw, req->max_tokens);

    } else {
        ngx_http_llm_jw_lit(jw, "null");
    }

    ngx_http_llm_jw_lit(jw, ",\"metadata\":");

    if (st->metadata.len) {
        ngx_http_llm_jw_raw(jw, st->metadata.data, st->metadata.len);

    } else {
        ngx_http_llm_jw_lit(jw, "{}");
    }

    ngx_http_llm_jw_lit(jw, ",\"model\":");
    ngx_http_llm_jw_string(jw, &ctx->model);
    ngx_http_llm_jw_lit(jw, ",\"output\":[");

    if (state != NGX_HTTP_LLM_RESPONSES_PROGRESS) {

        it = st->items.elts;

        for (i = 0; i < st->items.nelts; i++) {
            if (i) {
                ngx_http_llm_jw_lit(jw, ",");
            }

            ngx_http_llm_responses_item_json(jw, &it[i], 1);
        }
    }

    ngx_http_llm_jw_lit(jw, "],\"parallel_tool_calls\":");

    if (req && req->parallel_tool_calls == 0) {
        ngx_http_llm_jw_lit(jw, "false");

    } else {
        ngx_http_llm_jw_lit(jw, "true");
    }

    ngx_http_llm_jw_lit(jw, ",\"previous_response_id\":null,\"reasoning\":");

    if (st->reasoning.len) {
        ngx_http_llm_jw_raw(jw, st->reasoning.data, st->reasoning.len);

    } else {
        ngx_http_llm_jw_lit(jw, "{\"effort\":null,\"summary\":null}");
    }

    ngx_http_llm_jw_lit(jw, ",\"store\":");

    if (st->store) {
        ngx_http_llm_jw_lit(jw, "true");

    } else {
        ngx_http_llm_jw_lit(jw, "false");
    }

    ngx_http_llm_jw_lit(jw, ",\"temperature\":");

    s = (req && req->temperature.len) ? &req->temperature : NULL;

    if (s) {
        ngx_http_llm_jw_raw(jw, s->data, s->len);

    } else {
        ngx_http_llm_jw_lit(jw, "null");
    }

    ngx_http_llm_jw_lit(jw, ",\"text\":");

    if (st->text.len) {
        ngx_http_llm_jw_raw(jw, st->text.data, st->text.len);

    } else {
        ngx_http_llm_jw_lit(jw, "{\"format\":{\"type\":\"text\"}}");
    }

    ngx_http_llm_jw_lit(jw, ",\"tool_choice\":");

    if (st->tool_choice.len && st->choice_string) {
        ngx_http_llm_jw_lit(jw, "\"");
        ngx_http_llm_jw_raw(jw, st->tool_choice.data, st->tool_choice.len);
        ngx_http_llm_jw_lit(jw, "\"");

    } else if (st->tool_choice.len) {
        ngx_http_llm_jw_raw(jw, st->tool_choice.data, st->tool_choice.len);

    } else {
        ngx_http_llm_jw_lit(jw, "\"auto\"");
    }

    ngx_http_llm_jw_lit(jw, ",\"tools\":");

    if (st->tools.len) {
        ngx_http_llm_jw_raw(jw, st->tools.data, st->tools.len);

    } else {
        ngx_http_llm_jw_lit(jw, "[]");
    }

    ngx_http_llm_jw_lit(jw, ",\"top_p\":");

    s = (req && req->top_p.len) ? &req->top_p : NULL;

    if (s) {
        ngx_http_llm_jw_raw(jw, s->data, s->len);

    } else {
        ngx_http_llm_jw_lit(jw, "null");
    }

    ngx_http_llm_jw_lit(jw, ",\"truncation\":\"disabled\",\"usage\":");

    if (state == NGX_HTTP_LLM_RESPONSES_PROGRESS) {
        ngx_http_llm_jw_lit(jw, "null");

    } else {
        ngx_http_llm_responses_usage(jw, &ctx->usage);
    }

    ngx_http_llm_jw_lit(jw, ",\"user\":");

    if (req && req->user.len) {
        ngx_http_llm_jw_string(jw, &req->user);

    } else {
        ngx_http_llm_jw_lit(jw, "null");
    }

    ngx_http_llm_jw_lit(jw, "}");
}


/* an output item: "full" as done, or as just added (empty) */

static void
ngx_http_llm_responses_item_json(ngx_http_llm_jw_t *jw,
    ngx_http_llm_responses_item_t *it, ngx_uint_t full)
{
    ngx_str_t  enc;

    switch (it->type) {

    case NGX_HTTP_LLM_RESPONSES_MESSAGE:

        ngx_http_llm_jw_lit(jw, "{\"id\":");
        ngx_http_llm_jw_string(jw, &it->id);
        ngx_http_llm_jw_lit(jw, ",\"type\":\"message\",\"status\":");

        if (!full) {
            ngx_http_llm_jw_lit(jw, "\"in_progress\",\"role\":\"assistant\","
                                    "\"content\":[]}");
            return;
        }

        if (it->done) {
            ngx_http_llm_jw_lit(jw, "\"completed\"");

        } else {
            ngx_http_llm_jw_lit(jw, "\"in_progress\"");
        }

        ngx_http_llm_jw_lit(jw, ",\"role\":\"assistant\",\"content\":[");

        if (it->refusal) {
            ngx_http_llm_jw_lit(jw, "{\"type\":\"refusal\",\"refusal\":");
            ngx_http_llm_jw_string(jw, &it->text);
            ngx_http_llm_jw_lit(jw, "}]}");
            return;
        }

        ngx_http_llm_jw_lit(jw, "{\"type\":\"output_text\",\"text\":");
        ngx_http_llm_jw_string(jw, &it->text);
        ngx_http_llm_jw_lit(jw, ",\"annotations\":[],\"logprobs\":[]}]}");
        return;

    case NGX_HTTP_LLM_RESPONSES_REASONING:

        ngx_http_llm_jw_lit(jw, "{\"id\":");
        ngx_http_llm_jw_string(jw, &it->id);
        ngx_http_llm_jw_lit(jw, ",\"type\":\"reasoning\",\"summary\":[");

        if (full && it->text.len) {
            ngx_http_llm_jw_lit(jw, "{\"type\":\"summary_text\",\"text\":");
            ngx_http_llm_jw_string(jw, &it->text);
            ngx_http_llm_jw_lit(jw, "}");
        }

        ngx_http_llm_jw_lit(jw, "]");

        /*
         * thinking signatures and redacted thinking go back and forth
         * as encrypted_content, byte-exact ("redacted:" and the data)
         */

        if (full && it->redacted) {
            enc.len = sizeof("redacted:") - 1 + it->signature.len;
            enc.data = ngx_pnalloc(jw->pool, enc.len);

            if (enc.data == NULL) {
                jw->failed = 1;
                return;
            }

            ngx_memcpy(ngx_cpymem(enc.data, "redacted:",
                                  sizeof("redacted:") - 1),
                       it->signature.data, it->signature.len);

            ngx_http_llm_jw_lit(jw, ",\"encrypted_content\":");
            ngx_http_llm_jw_string(jw, &enc);

        } else if (full && it->signature.len) {
            ngx_http_llm_jw_lit(jw, ",\"encrypted_content\":");
            ngx_http_llm_jw_string(jw, &it->signature);
        }

        ngx_http_llm_jw_lit(jw, "}");
        return;

    default: /* NGX_HTTP_LLM_RESPONSES_CALL */

        ngx_http_llm_jw_lit(jw, "{\"id\":");
        ngx_http_llm_jw_string(jw, &it->id);
        ngx_http_llm_jw_lit(jw, ",\"type\":\"function_call\",\"status\":");

        if (full && it->done) {
            ngx_http_llm_jw_lit(jw, "\"completed\"");

        } else {
            ngx_http_llm_jw_lit(jw, "\"in_progress\"");
        }

        ngx_http_llm_jw_lit(jw, ",\"call_id\":");
        ngx_http_llm_jw_string(jw, &it->call_id);
        ngx_http_llm_jw_lit(jw, ",\"name\":");
        ngx_http_llm_jw_string(jw, &it->name);
        ngx_http_llm_jw_lit(jw, ",\"arguments\":");

        if (full) {
            ngx_http_llm_jw_string(jw, &it->text);

        } else {
            ngx_http_llm_jw_lit(jw, "\"\"");
        }

        ngx_http_llm_jw_lit(jw, "}");
    }
}


/* OpenAI semantics: input_tokens include the cached ones */

static void
ngx_http_llm_responses_usage(ngx_http_llm_jw_t *jw,
    ngx_http_llm_usage_t *usage)
{
    ngx_int_t  total;

    total = usage->total ? usage->total : usage->prompt + usage->completion;

    ngx_http_llm_jw_lit(jw, "{\"input_tokens\":");
    ngx_http_llm_jw_int(jw, usage->prompt);
    ngx_http_llm_jw_lit(jw, ",\"input_tokens_details\":{\"cached_tokens\":");
    ngx_http_llm_jw_int(jw, usage->cached);
    ngx_http_llm_jw_lit(jw, "},\"output_tokens\":");
    ngx_http_llm_jw_int(jw, usage->completion);
    ngx_http_llm_jw_lit(jw, ",\"output_tokens_details\":"
                            "{\"reasoning_tokens\":0},\"total_tokens\":");
    ngx_http_llm_jw_int(jw, total);
    ngx_http_llm_jw_lit(jw, "}");
}


/* -- the stream ----------------------------------------------------------- */


/*
 * Canonical deltas as Responses events: response.created and
 * response.in_progress first; output items opened lazily, one at a time
 * (a message with one output_text part, a reasoning item with one
 * summary part, a function_call), each closed with its ".done" events
 * before the next is added; response.completed (or .incomplete) with
 * the whole output and the usage, once, after the finish and the usage
 * or at the end of the stream; an error event and response.failed end
 * a stream that fails.
 */

static ngx_int_t
ngx_http_llm_responses_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    ngx_int_t                       rc;
    ngx_uint_t                      i, type;
    ngx_http_llm_responses_st_t    *st;
    ngx_http_llm_responses_item_t  *it;

    st = ngx_http_llm_responses_state(r, ctx);
    if (st == NULL) {
        return NGX_ERROR;
    }

    if (st->stopped) {
        return NGX_OK;
    }

    if (!st->started) {
        st->started = 1;

        if (ngx_http_llm_responses_response_event(r, ctx, st, ll,
                                       "response.created",
                                       NGX_HTTP_LLM_RESPONSES_PROGRESS, NULL)
            != NGX_OK
            || ngx_http_llm_responses_response_event(r, ctx, st, ll,
                                       "response.in_progress",
                                       NGX_HTTP_LLM_RESPONSES_PROGRESS, NULL)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    switch (delta->type) {

    case NGX_HTTP_LLM_DELTA_ERROR:
        return ngx_http_llm_responses_stream_error(r, ctx, st, delta, ll);

    case NGX_HTTP_LLM_DELTA_TEXT:
    case NGX_HTTP_LLM_DELTA_REASONING:

        if (delta->text.len == 0 || st->finished) {
            return NGX_OK;
        }

        type = (delta->type == NGX_HTTP_LLM_DELTA_TEXT)
               ? NGX_HTTP_LLM_RESPONSES_MESSAGE
               : NGX_HTTP_LLM_RESPONSES_REASONING;

        it = st->items.elts;

        if ((st->open < 0 || it[st->open].type != type)
            && ngx_http_llm_responses_open(r, st, type, 0, NULL, NULL, ll)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        it = st->items.elts;
        it = &it[st->open];

        rc = ngx_http_llm_responses_append(r, st, &it->text, &it->text_cap,
                                           &delta->text);
        if (rc != NGX_OK) {
            goto append_failed;
        }

        if (type == NGX_HTTP_LLM_RESPONSES_MESSAGE) {
            return ngx_http_llm_responses_text_event(r, st, ll,
                              "response.output_text.delta", it,
                              ",\"content_index\":0,\"logprobs\":[],"
                              "\"delta\":\"", &delta->text, "\"");
        }

        if (!it->part) {
            it->part = 1;

            if (ngx_http_llm_responses_text_event(r, st, ll,
                              "response.reasoning_summary_part.added", it,
                              NULL, NULL,
                              ",\"summary_index\":0,\"part\":"
                              "{\"type\":\"summary_text\",\"text\":\"\"}")
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return ngx_http_llm_responses_text_event(r, st, ll,
                              "response.reasoning_summary_text.delta", it,
                              ",\"summary_index\":0,\"delta\":\"",
                              &delta->text, "\"");

    case NGX_HTTP_LLM_DELTA_SIGNATURE:

        if (delta->text.len == 0 || st->finished) {
            return NGX_OK;
        }

        it = st->items.elts;

        if ((st->open < 0
             || it[st->open].type != NGX_HTTP_LLM_RESPONSES_REASONING)
            && ngx_http_llm_responses_open(r, st,
                                           NGX_HTTP_LLM_RESPONSES_REASONING,
                                           0, NULL, NULL, ll)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        it = st->items.elts;
        it = &it[st->open];

        rc = ngx_http_llm_responses_append(r, st, &it->signature,
                                           &it->sig_cap, &delta->text);
        if (rc != NGX_OK) {
            goto append_failed;
        }

        return NGX_OK;

    case NGX_HTTP_LLM_DELTA_TOOL_START:
    case NGX_HTTP_LLM_DELTA_TOOL_ARGS:

        if (st->finished) {
            return NGX_OK;
        }

        it = st->items.elts;

        for (i = 0; i < st->items.nelts; i++) {
            if (it[i].type == NGX_HTTP_LLM_RESPONSES_CALL
                && it[i].tool == delta->index)
            {
                break;
            }
        }

        if (i == st->items.nelts) {

            if (delta->index >= NGX_HTTP_LLM_RESPONSES_MAX_TOOLS) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "llm: provider sent tool call index %ui",
                              delta->index);
                return NGX_ERROR;
            }

            if (ngx_http_llm_responses_open(r, st,
                                            NGX_HTTP_LLM_RESPONSES_CALL,
                                            delta->index,
                                            delta->type
                                            == NGX_HTTP_LLM_DELTA_TOOL_START
                                            ? &delta->id : NULL,
                                            delta->type
                                            == NGX_HTTP_LLM_DELTA_TOOL_START
                                            ? &delta->name : NULL, ll)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            i = st->open;
        }

        if (delta->type == NGX_HTTP_LLM_DELTA_TOOL_START
            || delta->text.len == 0)
        {
            return NGX_OK;
        }

        it = st->items.elts;
        it = &it[i];

        rc = ngx_http_llm_responses_append(r, st, &it->text, &it->text_cap,
                                           &delta->text);
        if (rc != NGX_OK) {
            goto append_failed;
        }

        return ngx_http_llm_responses_text_event(r, st, ll,
                              "response.function_call_arguments.delta", it,
                              ",\"delta\":\"", &delta->text, "\"");

    case NGX_HTTP_LLM_DELTA_FINISH:

        if (!st->finished || delta->finish != NGX_HTTP_LLM_FINISH_NONE) {
            st->finish = delta->finish;
        }

        st->finished = 1;

        if (!st->usage) {
            /* wait for the usage: it comes in the next chunk (OpenAI) */
            return NGX_OK;
        }

        return ngx_http_llm_responses_end(r, ctx, st, ll);

    case NGX_HTTP_LLM_DELTA_USAGE:

        st->usage = 1;

        if (!st->finished) {
            return NGX_OK;
        }

        return ngx_http_llm_responses_end(r, ctx, st, ll);

    case NGX_HTTP_LLM_DELTA_DONE:
        return ngx_http_llm_responses_end(r, ctx, st, ll);

    default: /* NGX_HTTP_LLM_DELTA_START */
        return NGX_OK;
    }

append_failed:

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm: the streamed response is larger than %uz bytes "
                  "(llm_max_response_size)", st->max);

    {
        ngx_http_llm_delta_t  d;

        ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));

        d.type = NGX_HTTP_LLM_DELTA_ERROR;
        d.status = NGX_HTTP_BAD_GATEWAY;
        ngx_str_set(&d.error_code, "response_too_large");
        ngx_str_set(&d.error_message, "The response is larger than this "
                                      "gateway keeps for a stream "
                                      "(llm_max_response_size).");

        return ngx_http_llm_responses_stream_error(r, ctx, st, &d, ll);
    }
}


/*
 * "event: NAME\ndata: {"type":"NAME","sequence_number":N<pieces>}\n\n"
 * in a recycled buffer
 */

static ngx_int_t
ngx_http_llm_responses_event(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll, const char *name,
    ngx_http_llm_responses_piece_t *pc, ngx_uint_t n)
{
    size_t        size, nlen;
    ngx_buf_t    *b;
    ngx_uint_t    i;
    ngx_chain_t  *cl;

    nlen = ngx_strlen(name);
    size = sizeof("event: \ndata: {\"type\":\"\",\"sequence_number\":}\n\n")
           - 1 + 2 * nlen + NGX_INT_T_LEN;

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
    b->last = ngx_cpymem(b->last, "\ndata: {\"type\":\"",
                         sizeof("\ndata: {\"type\":\"") - 1);
    b->last = ngx_cpymem(b->last, name, nlen);
    b->last = ngx_cpymem(b->last, "\",\"sequence_number\":",
                         sizeof("\",\"sequence_number\":") - 1);
    b->last = ngx_http_llm_write_uint(b->last, st->seq++);

    for (i = 0; i < n; i++) {
        if (pc[i].escape) {
            b->last = ngx_http_llm_json_escape(b->last, pc[i].data,
                                               pc[i].len);

        } else {
            b->last = ngx_cpymem(b->last, pc[i].data, pc[i].len);
        }
    }

    *b->last++ = '}';
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


/* response.created, .in_progress, .completed, .incomplete, .failed */

static ngx_int_t
ngx_http_llm_responses_response_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_responses_st_t *st,
    ngx_chain_t ***ll, const char *name, ngx_uint_t state,
    ngx_http_llm_delta_t *error)
{
    ngx_int_t                        rc;
    ngx_http_llm_jw_t                jw;
    ngx_http_llm_responses_piece_t   pc[2];

    if (ngx_http_llm_jw_init(&jw, r->pool,
                             1024 + (state == NGX_HTTP_LLM_RESPONSES_PROGRESS
                                     ? 0 : st->total))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_llm_responses_object(ctx, st, &jw, state, error);

    if (jw.failed) {
        return NGX_ERROR;
    }

    ngx_http_llm_piece(&pc[0], ",\"response\":", 0);

    pc[1].data = jw.start;
    pc[1].len = jw.pos - jw.start;
    pc[1].escape = 0;

    rc = ngx_http_llm_responses_event(r, st, ll, name, pc, 2);

    ngx_pfree(r->pool, jw.start);

    return rc;
}


/* response.output_item.added or .done */

static ngx_int_t
ngx_http_llm_responses_item_event(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll, const char *name,
    ngx_http_llm_responses_item_t *it, ngx_uint_t full)
{
    u_char                          *p;
    ngx_int_t                        rc;
    ngx_http_llm_jw_t                jw;
    ngx_http_llm_responses_piece_t   pc[2];
    u_char                           head[64 + NGX_INT_T_LEN];

    if (ngx_http_llm_jw_init(&jw, r->pool,
                             256 + (full ? it->text.len + it->signature.len
                                         : 0))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_llm_responses_item_json(&jw, it, full);

    if (jw.failed) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(head, ",\"output_index\":%ui,\"item\":", it->index);

    pc[0].data = head;
    pc[0].len = p - head;
    pc[0].escape = 0;

    pc[1].data = jw.start;
    pc[1].len = jw.pos - jw.start;
    pc[1].escape = 0;

    rc = ngx_http_llm_responses_event(r, st, ll, name, pc, 2);

    ngx_pfree(r->pool, jw.start);

    return rc;
}


/*
 * An event about an item: item_id, output_index, then the raw "pre",
 * the text escaped and the raw "post" (pre NULL: post only)
 */

static ngx_int_t
ngx_http_llm_responses_text_event(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll, const char *name,
    ngx_http_llm_responses_item_t *it, const char *pre, ngx_str_t *text,
    const char *post)
{
    u_char                          *p;
    ngx_uint_t                       n;
    ngx_http_llm_responses_piece_t   pc[6];
    u_char                           mid[32 + NGX_INT_T_LEN];

    ngx_http_llm_piece(&pc[0], ",\"item_id\":\"", 0);
    ngx_http_llm_piece_str(&pc[1], &it->id, 0);

    p = ngx_cpymem(mid, "\",\"output_index\":",
                   sizeof("\",\"output_index\":") - 1);
    p = ngx_http_llm_write_uint(p, it->index);

    pc[2].data = mid;
    pc[2].len = p - mid;
    pc[2].escape = 0;

    n = 3;

    if (pre) {
        pc[n].data = (u_char *) pre;
        pc[n].len = ngx_strlen(pre);
        pc[n++].escape = 0;

        ngx_http_llm_piece_str(&pc[n], text, 1);
        n++;
    }

    pc[n].data = (u_char *) post;
    pc[n].len = ngx_strlen(post);
    pc[n++].escape = 0;

    return ngx_http_llm_responses_event(r, st, ll, name, pc, n);
}


/* closes the open item, adds the next one */

static ngx_int_t
ngx_http_llm_responses_open(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_uint_t type, ngx_uint_t tool,
    ngx_str_t *id, ngx_str_t *name, ngx_chain_t ***ll)
{
    ngx_http_llm_responses_item_t  *it;

    if (ngx_http_llm_responses_close(r, st, ll) != NGX_OK) {
        return NGX_ERROR;
    }

    it = ngx_http_llm_responses_add_item(r, st, type);
    if (it == NULL) {
        return NGX_ERROR;
    }

    st->open = it->index;

    switch (type) {

    case NGX_HTTP_LLM_RESPONSES_MESSAGE:

        if (ngx_http_llm_responses_item_event(r, st, ll,
                                              "response.output_item.added",
                                              it, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_llm_responses_text_event(r, st, ll,
                   "response.content_part.added", it, NULL, NULL,
                   ",\"content_index\":0,\"part\":{\"type\":\"output_text\","
                   "\"text\":\"\",\"annotations\":[],\"logprobs\":[]}");

    case NGX_HTTP_LLM_RESPONSES_REASONING:

        if (ngx_http_llm_responses_item_event(r, st, ll,
                                              "response.output_item.added",
                                              it, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;

    default: /* NGX_HTTP_LLM_RESPONSES_CALL */

        it->tool = tool;

        if (name) {
            it->name = *name;
        }

        if (id && id->len) {
            it->call_id = *id;

        } else if (ngx_http_llm_openai_make_id(r->pool, "call_",
                                               &it->call_id)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_llm_responses_item_event(r, st, ll,
                                                 "response.output_item.added",
                                                 it, 0);
    }
}


/* the ".done" events of the open item */

static ngx_int_t
ngx_http_llm_responses_close(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll)
{
    u_char                          *p;
    ngx_http_llm_responses_item_t   *it;
    ngx_http_llm_responses_piece_t   pc[7];
    u_char                           mid[48 + NGX_INT_T_LEN];

    if (st->open < 0) {
        return NGX_OK;
    }

    it = st->items.elts;
    it = &it[st->open];

    st->open = -1;
    it->done = 1;

    switch (it->type) {

    case NGX_HTTP_LLM_RESPONSES_MESSAGE:

        if (ngx_http_llm_responses_text_event(r, st, ll,
                          "response.output_text.done", it,
                          ",\"content_index\":0,\"logprobs\":[],\"text\":\"",
                          &it->text, "\"")
            != NGX_OK
            || ngx_http_llm_responses_text_event(r, st, ll,
                          "response.content_part.done", it,
                          ",\"content_index\":0,\"part\":{\"type\":"
                          "\"output_text\",\"text\":\"", &it->text,
                          "\",\"annotations\":[],\"logprobs\":[]}")
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_LLM_RESPONSES_REASONING:

        if (it->part
            && (ngx_http_llm_responses_text_event(r, st, ll,
                          "response.reasoning_summary_text.done", it,
                          ",\"summary_index\":0,\"text\":\"", &it->text, "\"")
                != NGX_OK
                || ngx_http_llm_responses_text_event(r, st, ll,
                          "response.reasoning_summary_part.done", it,
                          ",\"summary_index\":0,\"part\":{\"type\":"
                          "\"summary_text\",\"text\":\"", &it->text, "\"}")
                   != NGX_OK))
        {
            return NGX_ERROR;
        }

        break;

    default: /* NGX_HTTP_LLM_RESPONSES_CALL */

        ngx_http_llm_piece(&pc[0], ",\"item_id\":\"", 0);
        ngx_http_llm_piece_str(&pc[1], &it->id, 0);

        p = ngx_sprintf(mid, "\",\"output_index\":%ui,\"name\":\"",
                        it->index);

        pc[2].data = mid;
        pc[2].len = p - mid;
        pc[2].escape = 0;

        ngx_http_llm_piece_str(&pc[3], &it->name, 1);
        ngx_http_llm_piece(&pc[4], "\",\"arguments\":\"", 0);
        ngx_http_llm_piece_str(&pc[5], &it->text, 1);
        ngx_http_llm_piece(&pc[6], "\"", 0);

        if (ngx_http_llm_responses_event(r, st, ll,
                                  "response.function_call_arguments.done",
                                  pc, 7)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_llm_responses_item_event(r, st, ll,
                                             "response.output_item.done",
                                             it, 1);
}


/*
 * Text kept for the ".done" events and response.completed, in a buffer
 * that doubles; all kept text at most llm_max_response_size bytes.
 * NGX_DECLINED: over the limit.
 */

static ngx_int_t
ngx_http_llm_responses_append(ngx_http_request_t *r,
    ngx_http_llm_responses_st_t *st, ngx_str_t *s, size_t *cap,
    ngx_str_t *add)
{
    u_char  *p;
    size_t   size;

    if (st->total + add->len > st->max) {
        return NGX_DECLINED;
    }

    if (s->len + add->len > *cap) {

        size = *cap ? *cap * 2 : 256;

        while (size < s->len + add->len) {
            size *= 2;
        }

        p = ngx_pnalloc(r->pool, size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (s->len) {
            ngx_memcpy(p, s->data, s->len);
        }

        if (*cap) {
            ngx_pfree(r->pool, s->data);
        }

        s->data = p;
        *cap = size;
    }

    ngx_memcpy(s->data + s->len, add->data, add->len);
    s->len += add->len;

    st->total += add->len;

    return NGX_OK;
}


/* the open item closed, response.completed (or .incomplete) */

static ngx_int_t
ngx_http_llm_responses_end(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_responses_st_t *st, ngx_chain_t ***ll)
{
    const char  *name;

    if (ngx_http_llm_responses_close(r, st, ll) != NGX_OK) {
        return NGX_ERROR;
    }

    st->stopped = 1;

    if (st->finish == NGX_HTTP_LLM_FINISH_LENGTH
        || st->finish == NGX_HTTP_LLM_FINISH_FILTER)
    {
        name = "response.incomplete";

    } else {
        name = "response.completed";
    }

    return ngx_http_llm_responses_response_event(r, ctx, st, ll, name,
                                                 NGX_HTTP_LLM_RESPONSES_DONE,
                                                 NULL);
}


/* an "error" event, then response.failed */

static ngx_int_t
ngx_http_llm_responses_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_responses_st_t *st,
    ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    ngx_str_t                        code;
    ngx_http_llm_delta_t             d;
    ngx_http_llm_responses_piece_t   pc[5];

    st->stopped = 1;

    d = *delta;

    if (d.error_message.len == 0) {
        ngx_str_set(&d.error_message, "The model provider returned an "
                                      "error.");
    }

    code = d.error_code.len ? d.error_code : d.error_type;

    if (code.len == 0) {
        ngx_str_set(&code, "server_error");
    }

    ngx_http_llm_piece(&pc[0], ",\"code\":\"", 0);
    ngx_http_llm_piece_str(&pc[1], &code, 1);
    ngx_http_llm_piece(&pc[2], "\",\"message\":\"", 0);
    ngx_http_llm_piece_str(&pc[3], &d.error_message, 1);
    ngx_http_llm_piece(&pc[4], "\",\"param\":null", 0);

    if (ngx_http_llm_responses_event(r, st, ll, "error", pc, 5) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llm_responses_response_event(r, ctx, st, ll,
                                             "response.failed",
                                             NGX_HTTP_LLM_RESPONSES_FAILED,
                                             &d);
}


/* -- errors --------------------------------------------------------------- */


/* OpenAI's error format, the same for Responses */

static ngx_chain_t *
ngx_http_llm_responses_write_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *message)
{
    return ngx_http_llm_surface_openai.write_error(r, status, type, code,
                                                   message);
}
