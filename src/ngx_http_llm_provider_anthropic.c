
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_json.h"

#include <stdlib.h>


/*
 * The Anthropic Messages adapter (PROVIDERS.md, sections 2 and 7): the
 * canonical request becomes POST {base}/messages; the Message, its event
 * stream and its errors become canonical responses, deltas and errors.
 *
 * response_format (json_object, json_schema) uses the forced-tool
 * technique: a tool "json_response" whose input_schema is the schema,
 * forced with tool_choice; its input is handed back as the message text
 * (finish "stop").  It is used only when the request has no tools of its
 * own and no extended thinking (Anthropic rejects a forced tool_choice
 * with thinking); otherwise response_format is dropped.
 */


#define NGX_HTTP_LLM_ANTHROPIC_JSON_TOKENS  (4 * 1024 * 1024)
#define NGX_HTTP_LLM_ANTHROPIC_MAX_TOKENS   4096
#define NGX_HTTP_LLM_ANTHROPIC_MIN_BUDGET   1024

#define NGX_HTTP_LLM_ANTHROPIC_JSON_TOOL    "json_response"
#define NGX_HTTP_LLM_ANTHROPIC_JSON_DESC                                      \
    "Your answer: call this tool with it as the input"

/* content blocks of a stream */
#define NGX_HTTP_LLM_AB_OTHER               0
#define NGX_HTTP_LLM_AB_TEXT                1
#define NGX_HTTP_LLM_AB_TOOL                2
#define NGX_HTTP_LLM_AB_THINKING            3
#define NGX_HTTP_LLM_AB_JSON                4   /* the response_format tool */


typedef struct {
    ngx_uint_t                      index;      /* Anthropic block index */
    ngx_uint_t                      kind;
    ngx_uint_t                      ordinal;    /* tool call index */
    ngx_uint_t                      args;       /* arguments were sent */
} ngx_http_llm_anthropic_block_t;


typedef struct {
    ngx_pool_t                     *pool;       /* scratch, per event */
    ngx_array_t                     blocks;
    ngx_uint_t                      tools;      /* tool_use blocks seen */
    ngx_int_t                       input[3];   /* input, cache reads and
                                                   writes */

    unsigned                        started:1;
    unsigned                        finished:1;
    unsigned                        stopped:1;
    unsigned                        failed:1;
    unsigned                        json_tool:1;
} ngx_http_llm_anthropic_stream_t;


typedef struct {
    ngx_str_t                       type;
    ngx_str_t                       openai;
} ngx_http_llm_anthropic_error_t;


static ngx_int_t ngx_http_llm_anthropic_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_anthropic_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_jw_t *jw);
static void ngx_http_llm_anthropic_system(ngx_http_llm_jw_t *jw,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_messages(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_assistant(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_message_t *m, ngx_uint_t final,
    ngx_uint_t *blocks);
static void ngx_http_llm_anthropic_tool_result(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_message_t *m);
static void ngx_http_llm_anthropic_part(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_part_t *part, ngx_uint_t *blocks);
static void ngx_http_llm_anthropic_media(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_str_t *media, ngx_str_t *data,
    ngx_str_t *title, ngx_uint_t *blocks);
static ngx_int_t ngx_http_llm_anthropic_data_url(ngx_str_t *url,
    ngx_str_t *media, ngx_str_t *data);
static void ngx_http_llm_anthropic_tools(ngx_pool_t *pool,
    ngx_http_llm_jw_t *jw, ngx_http_llm_request_t *req,
    ngx_uint_t json_tool);
static ngx_int_t ngx_http_llm_anthropic_json_tool(
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_budget(ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_number(ngx_str_t *s, double *d);
static ngx_uint_t ngx_http_llm_anthropic_blank(ngx_str_t *s);
static ngx_int_t ngx_http_llm_anthropic_compact(ngx_pool_t *pool,
    ngx_str_t *s);
static void ngx_http_llm_anthropic_comma(ngx_http_llm_jw_t *jw,
    ngx_uint_t *n);

static ngx_int_t ngx_http_llm_anthropic_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);
static ngx_int_t ngx_http_llm_anthropic_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_str_t *type, ngx_http_llm_json_t *js, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_block_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_block_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_block_stop(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll);
static ngx_http_llm_anthropic_block_t *ngx_http_llm_anthropic_block(
    ngx_http_llm_anthropic_stream_t *st, ngx_http_llm_json_t *js);
static ngx_int_t ngx_http_llm_anthropic_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_int_t msg, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_emit(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t type, ngx_uint_t index,
    ngx_str_t *text, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_anthropic_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll);
static void ngx_http_llm_anthropic_cleanup(void *data);

static ngx_int_t ngx_http_llm_anthropic_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code);
static ngx_int_t ngx_http_llm_anthropic_error_fields(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t e, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code);
static ngx_uint_t ngx_http_llm_anthropic_finish(ngx_str_t *reason,
    ngx_uint_t json_tool);
static void ngx_http_llm_anthropic_usage(ngx_http_llm_json_t *js,
    ngx_int_t u, ngx_int_t *input, ngx_http_llm_usage_t *usage);
static ngx_int_t ngx_http_llm_anthropic_string(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t obj, const char *key,
    ngx_str_t *out);


const ngx_http_llm_provider_t  ngx_http_llm_provider_anthropic = {
    ngx_string("anthropic"),
    ngx_string("/v1"),
    0,
    0,                                     /* openai_format */
    0,                                     /* embeddings */
    ngx_http_llm_anthropic_create_request,
    ngx_http_llm_anthropic_stream_event,
    ngx_http_llm_anthropic_response,
    ngx_http_llm_anthropic_error,
    NULL                                   /* check */
};


/*
 * Anthropic error types as the client sees them: the seven that
 * OpenAI-style clients know are kept, the others are folded into them;
 * the original type is then the error's "code"
 */

static ngx_http_llm_anthropic_error_t  ngx_http_llm_anthropic_errors[] = {
    { ngx_string("invalid_request_error"),
      ngx_string("invalid_request_error") },
    { ngx_string("authentication_error"), ngx_string("authentication_error") },
    { ngx_string("permission_error"), ngx_string("permission_error") },
    { ngx_string("not_found_error"), ngx_string("not_found_error") },
    { ngx_string("rate_limit_error"), ngx_string("rate_limit_error") },
    { ngx_string("api_error"), ngx_string("api_error") },
    { ngx_string("overloaded_error"), ngx_string("overloaded_error") },
    { ngx_string("request_too_large"), ngx_string("invalid_request_error") },
    { ngx_string("billing_error"), ngx_string("permission_error") },
    { ngx_string("timeout_error"), ngx_string("api_error") },
    { ngx_null_string, ngx_null_string }
};


#define ngx_http_llm_anthropic_is(s, lit)                                     \
    ((s)->len == sizeof(lit) - 1                                              \
     && ngx_memcmp((s)->data, lit, sizeof(lit) - 1) == 0)


/* request ------------------------------------------------------------------ */


static ngx_int_t
ngx_http_llm_anthropic_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    u_char                        *p;
    size_t                         len;
    ngx_str_t                      version, path;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl, *body;
    ngx_http_llm_jw_t              jw;
    ngx_http_llm_provider_conf_t  *pc;

    pc = ctx->provider;

    if (ctx->req == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "llm anthropic: no canonical request");
        return NGX_ERROR;
    }

    if (ngx_http_llm_jw_init(&jw, r->pool, 1024 + ctx->body.len) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llm_anthropic_body(r, ctx, &jw) != NGX_OK) {
        return NGX_ERROR;
    }

    body = ngx_http_llm_jw_chain(&jw);
    if (body == NULL) {
        return NGX_ERROR;
    }

    if (pc->version.len) {
        version = pc->version;

    } else {
        ngx_str_set(&version, "2023-06-01");
    }

    /* messages/count_tokens: the same body, no sampling, to its URL */

    if (ctx->count_tokens) {
        ngx_str_set(&path, "/messages/count_tokens");

    } else {
        ngx_str_set(&path, "/messages");
    }

    len = sizeof("POST ") - 1 + path.len + pc->base.len
          + NGX_HTTP_LLM_COMMON_HEADERS_LEN(pc)
          + sizeof("anthropic-version: " CRLF) - 1 + version.len
          + pc->extra_headers.len
          + sizeof(CRLF) - 1;

    if (pc->key.len) {
        len += sizeof("x-api-key: " CRLF) - 1 + pc->key.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    p = ngx_cpymem(p, "POST ", sizeof("POST ") - 1);
    p = ngx_cpymem(p, pc->base.data, pc->base.len);
    p = ngx_cpymem(p, path.data, path.len);
    p = ngx_http_llm_common_headers(p, pc, ctx->stream,
                                    (size_t) (body->buf->last
                                              - body->buf->pos));

    /* the key is never logged */

    if (pc->key.len) {
        p = ngx_cpymem(p, "x-api-key: ", sizeof("x-api-key: ") - 1);
        p = ngx_cpymem(p, pc->key.data, pc->key.len);
        *p++ = CR; *p++ = LF;
    }

    p = ngx_cpymem(p, "anthropic-version: ",
                   sizeof("anthropic-version: ") - 1);
    p = ngx_cpymem(p, version.data, version.len);
    *p++ = CR; *p++ = LF;

    p = ngx_cpymem(p, pc->extra_headers.data, pc->extra_headers.len);
    *p++ = CR; *p++ = LF;

    b->last = p;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = body;
    body->next = NULL;

    r->upstream->request_bufs = cl;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm anthropic request: %V%V, %uz body bytes",
                   &pc->base, &path,
                   (size_t) (body->buf->last - body->buf->pos));

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_anthropic_body(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_jw_t *jw)
{
    double                   d;
    ngx_int_t                max, budget, json_tool;
    ngx_str_t               *stop;
    ngx_uint_t               i, n;
    ngx_http_llm_request_t  *req;

    req = ctx->req;

    /* max_tokens is required; thinking counts in it */

    if (req->max_tokens > 0) {
        max = req->max_tokens;

    } else if (ctx->provider->max_tokens > 0) {
        max = ctx->provider->max_tokens;

    } else {
        max = NGX_HTTP_LLM_ANTHROPIC_MAX_TOKENS;
    }

    budget = ngx_http_llm_anthropic_budget(req);

    if (budget > 0 && max <= budget) {
        /*
         * budget_tokens must be less than max_tokens: the answer keeps
         * what was asked for
         */
        max += budget;
    }

    json_tool = ngx_http_llm_anthropic_json_tool(req);

    if (req->format != NGX_HTTP_LLM_FORMAT_TEXT && !json_tool) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm anthropic: response_format is dropped with "
                      "tools or thinking");
    }

    ngx_http_llm_jw_lit(jw, "{\"model\":");
    ngx_http_llm_jw_string(jw, &ctx->upstream_model);

    if (!ctx->count_tokens) {
        ngx_http_llm_jw_lit(jw, ",\"max_tokens\":");
        ngx_http_llm_jw_int(jw, max);
    }

    ngx_http_llm_anthropic_system(jw, req);

    ngx_http_llm_jw_lit(jw, ",\"messages\":[");

    if (ngx_http_llm_anthropic_messages(r, jw, req) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_llm_jw_lit(jw, "]");

    ngx_http_llm_anthropic_tools(r->pool, jw, req, json_tool);

    if (ctx->count_tokens) {
        /* count_tokens takes no sampling parameters */
        goto thinking;
    }

    if (budget <= 0) {

        /*
         * Anthropic's temperature is 0..1, OpenAI's 0..2: a value above 1
         * is clamped to 1 (rejected with a 400 otherwise); with thinking
         * only the default temperature and no top_k are accepted
         */

        if (req->temperature.len) {
            ngx_http_llm_jw_lit(jw, ",\"temperature\":");

            if (ngx_http_llm_anthropic_number(&req->temperature, &d)
                == NGX_OK && d > 1)
            {
                ngx_http_llm_jw_lit(jw, "1");

            } else {
                ngx_http_llm_jw_raw(jw, req->temperature.data,
                                    req->temperature.len);
            }
        }

        if (req->top_k.len) {
            ngx_http_llm_jw_lit(jw, ",\"top_k\":");
            ngx_http_llm_jw_raw(jw, req->top_k.data, req->top_k.len);
        }
    }

    /* with thinking, top_p must be 0.95 or more */

    if (req->top_p.len
        && (budget <= 0
            || (ngx_http_llm_anthropic_number(&req->top_p, &d) == NGX_OK
                && d >= 0.95)))
    {
        ngx_http_llm_jw_lit(jw, ",\"top_p\":");
        ngx_http_llm_jw_raw(jw, req->top_p.data, req->top_p.len);
    }

    /* whitespace-only stop sequences are rejected */

    stop = req->stop.elts;
    n = 0;

    for (i = 0; i < req->stop.nelts; i++) {
        if (ngx_http_llm_anthropic_blank(&stop[i])) {
            continue;
        }

        if (n) {
            ngx_http_llm_jw_lit(jw, ",");

        } else {
            ngx_http_llm_jw_lit(jw, ",\"stop_sequences\":[");
        }

        ngx_http_llm_jw_string(jw, &stop[i]);
        n++;
    }

    if (n) {
        ngx_http_llm_jw_lit(jw, "]");
    }

    if (req->user.len) {
        ngx_http_llm_jw_lit(jw, ",\"metadata\":{\"user_id\":");
        ngx_http_llm_jw_string(jw, &req->user);
        ngx_http_llm_jw_lit(jw, "}");
    }

thinking:

    if (budget > 0) {
        ngx_http_llm_jw_lit(jw, ",\"thinking\":{\"type\":\"enabled\","
                                "\"budget_tokens\":");
        ngx_http_llm_jw_int(jw, budget);
        ngx_http_llm_jw_lit(jw, "}");
    }

    if (req->stream) {
        ngx_http_llm_jw_lit(jw, ",\"stream\":true");
    }

    ngx_http_llm_jw_lit(jw, "}");

    return jw->failed ? NGX_ERROR : NGX_OK;
}


/*
 * extended thinking: an explicit budget, or reasoning_effort as LiteLLM
 * maps it (low 1024, medium 2048, high 4096); 0: none
 */

static ngx_int_t
ngx_http_llm_anthropic_budget(ngx_http_llm_request_t *req)
{
    ngx_int_t   budget;
    ngx_str_t  *e;

    e = &req->reasoning_effort;

    if (req->thinking_budget >= 0) {
        budget = req->thinking_budget;

    } else if (ngx_http_llm_anthropic_is(e, "minimal")
               || ngx_http_llm_anthropic_is(e, "low"))
    {
        budget = 1024;

    } else if (ngx_http_llm_anthropic_is(e, "medium")) {
        budget = 2048;

    } else if (ngx_http_llm_anthropic_is(e, "high")) {
        budget = 4096;

    } else {
        budget = 0;
    }

    if (budget > 0 && budget < NGX_HTTP_LLM_ANTHROPIC_MIN_BUDGET) {
        budget = NGX_HTTP_LLM_ANTHROPIC_MIN_BUDGET;
    }

    return budget;
}


static ngx_int_t
ngx_http_llm_anthropic_json_tool(ngx_http_llm_request_t *req)
{
    return req->format != NGX_HTTP_LLM_FORMAT_TEXT
           && req->tools.nelts == 0
           && ngx_http_llm_anthropic_budget(req) <= 0;
}


static void
ngx_http_llm_anthropic_system(ngx_http_llm_jw_t *jw,
    ngx_http_llm_request_t *req)
{
    ngx_uint_t               i, k, n;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *m;

    m = req->messages.elts;
    n = 0;

    for (i = 0; i < req->messages.nelts; i++) {

        if (m[i].role != NGX_HTTP_LLM_ROLE_SYSTEM) {
            continue;
        }

        part = m[i].parts.elts;

        for (k = 0; k < m[i].parts.nelts; k++) {

            if (part[k].type != NGX_HTTP_LLM_PART_TEXT
                || part[k].text.len == 0)
            {
                continue;
            }

            if (n) {
                ngx_http_llm_jw_lit(jw, ",");

            } else {
                ngx_http_llm_jw_lit(jw, ",\"system\":[");
            }

            ngx_http_llm_jw_lit(jw, "{\"type\":\"text\",\"text\":");
            ngx_http_llm_jw_string(jw, &part[k].text);
            ngx_http_llm_jw_lit(jw, "}");
            n++;
        }
    }

    if (n) {
        ngx_http_llm_jw_lit(jw, "]");
    }
}


/*
 * Turns alternate: adjacent messages of the same Anthropic role are one
 * turn (system messages, lifted out, do not separate them); tool results
 * are user turns, and come first in theirs; a turn without any content
 * is left out.
 */

static ngx_int_t
ngx_http_llm_anthropic_messages(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_http_llm_request_t *req)
{
    size_t                   off;
    ngx_uint_t               i, j, k, p, n, last, role, turns, blocks;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *m;

    m = req->messages.elts;
    n = req->messages.nelts;

    /*
     * the last message that is not a system one: a final assistant turn
     * is a prefill
     */

    last = n;

    for (i = n; i > 0; i--) {
        if (m[i - 1].role != NGX_HTTP_LLM_ROLE_SYSTEM) {
            last = i - 1;
            break;
        }
    }

    turns = 0;
    i = 0;

    while (i < n) {

        if (m[i].role == NGX_HTTP_LLM_ROLE_SYSTEM) {
            i++;
            continue;
        }

        role = (m[i].role == NGX_HTTP_LLM_ROLE_ASSISTANT)
               ? NGX_HTTP_LLM_ROLE_ASSISTANT : NGX_HTTP_LLM_ROLE_USER;

        for (j = i; j < n; j++) {
            if (m[j].role == NGX_HTTP_LLM_ROLE_SYSTEM) {
                continue;
            }

            if ((m[j].role == NGX_HTTP_LLM_ROLE_ASSISTANT)
                != (role == NGX_HTTP_LLM_ROLE_ASSISTANT))
            {
                break;
            }
        }

        /* messages i .. j - 1 are one turn */

        off = jw->pos - jw->start;
        blocks = 0;

        ngx_http_llm_anthropic_comma(jw, &turns);

        if (role == NGX_HTTP_LLM_ROLE_ASSISTANT) {
            ngx_http_llm_jw_lit(jw, "{\"role\":\"assistant\",\"content\":[");

            for (k = i; k < j; k++) {
                if (m[k].role != NGX_HTTP_LLM_ROLE_ASSISTANT) {
                    continue;
                }

                if (ngx_http_llm_anthropic_assistant(r, jw, &m[k], k == last,
                                                     &blocks)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }

        } else {
            ngx_http_llm_jw_lit(jw, "{\"role\":\"user\",\"content\":[");

            for (k = i; k < j; k++) {
                if (m[k].role == NGX_HTTP_LLM_ROLE_TOOL) {
                    ngx_http_llm_anthropic_comma(jw, &blocks);
                    ngx_http_llm_anthropic_tool_result(r, jw, &m[k]);
                }
            }

            for (k = i; k < j; k++) {
                if (m[k].role != NGX_HTTP_LLM_ROLE_USER) {
                    continue;
                }

                part = m[k].parts.elts;

                for (p = 0; p < m[k].parts.nelts; p++) {
                    ngx_http_llm_anthropic_part(r, jw, &part[p], &blocks);
                }
            }
        }

        if (blocks == 0) {
            /* nothing to say: Anthropic rejects empty turns */

            if (!jw->failed) {
                jw->pos = jw->start + off;
            }

            turns--;

        } else {
            ngx_http_llm_jw_lit(jw, "]}");
        }

        i = j;
    }

    return jw->failed ? NGX_ERROR : NGX_OK;
}


static ngx_int_t
ngx_http_llm_anthropic_assistant(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_http_llm_message_t *m, ngx_uint_t final, ngx_uint_t *blocks)
{
    ngx_str_t                  text, args;
    ngx_int_t                  rc;
    ngx_uint_t                 k, t;
    ngx_http_llm_json_t        js;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_tool_call_t  *tc;

    part = m->parts.elts;

    /*
     * thinking blocks first, byte for byte as they came; one without a
     * signature (an OpenAI client's reasoning_content) is not Anthropic's
     * and would be rejected
     */

    for (k = 0; k < m->parts.nelts; k++) {

        if (part[k].type == NGX_HTTP_LLM_PART_THINKING
            && part[k].signature.len)
        {
            ngx_http_llm_anthropic_comma(jw, blocks);
            ngx_http_llm_jw_lit(jw, "{\"type\":\"thinking\",\"thinking\":");
            ngx_http_llm_jw_string(jw, &part[k].text);
            ngx_http_llm_jw_lit(jw, ",\"signature\":");
            ngx_http_llm_jw_string(jw, &part[k].signature);
            ngx_http_llm_jw_lit(jw, "}");

        } else if (part[k].type == NGX_HTTP_LLM_PART_REDACTED) {
            ngx_http_llm_anthropic_comma(jw, blocks);
            ngx_http_llm_jw_lit(jw, "{\"type\":\"redacted_thinking\","
                                    "\"data\":");
            ngx_http_llm_jw_string(jw, &part[k].data);
            ngx_http_llm_jw_lit(jw, "}");
        }
    }

    /* the last text part of a final (prefill) turn: no trailing space */

    t = m->parts.nelts;

    if (final && m->tool_calls.nelts == 0) {
        for (k = m->parts.nelts; k > 0; k--) {
            if (part[k - 1].type == NGX_HTTP_LLM_PART_TEXT) {
                t = k - 1;
                break;
            }
        }
    }

    for (k = 0; k < m->parts.nelts; k++) {

        if (part[k].type != NGX_HTTP_LLM_PART_TEXT) {
            continue;
        }

        text = part[k].text;

        if (k == t) {
            while (text.len
                   && (text.data[text.len - 1] == ' '
                       || text.data[text.len - 1] == '\t'
                       || text.data[text.len - 1] == CR
                       || text.data[text.len - 1] == LF))
            {
                text.len--;
            }
        }

        if (text.len == 0) {
            continue;
        }

        ngx_http_llm_anthropic_comma(jw, blocks);
        ngx_http_llm_jw_lit(jw, "{\"type\":\"text\",\"text\":");
        ngx_http_llm_jw_string(jw, &text);
        ngx_http_llm_jw_lit(jw, "}");
    }

    /* tool calls: "input" is the arguments' JSON object */

    tc = m->tool_calls.elts;

    for (k = 0; k < m->tool_calls.nelts; k++) {

        args = tc[k].arguments;

        while (args.len
               && (args.data[0] == ' ' || args.data[0] == '\t'
                   || args.data[0] == CR || args.data[0] == LF))
        {
            args.data++;
            args.len--;
        }

        if (args.len == 0) {
            ngx_str_set(&args, "{}");

        } else {
            rc = ngx_http_llm_json_parse(r->pool, &js, args.data, args.len,
                                         NGX_HTTP_LLM_ANTHROPIC_JSON_TOKENS);
            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK
                || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
            {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "llm anthropic: the arguments of tool call "
                              "\"%V\" are not a JSON object", &tc[k].id);
                return NGX_ERROR;
            }

            ngx_pfree(r->pool, js.toks);
        }

        ngx_http_llm_anthropic_comma(jw, blocks);
        ngx_http_llm_jw_lit(jw, "{\"type\":\"tool_use\",\"id\":");
        ngx_http_llm_jw_string(jw, &tc[k].id);
        ngx_http_llm_jw_lit(jw, ",\"name\":");
        ngx_http_llm_jw_string(jw, &tc[k].name);
        ngx_http_llm_jw_lit(jw, ",\"input\":");
        ngx_http_llm_jw_raw(jw, args.data, args.len);
        ngx_http_llm_jw_lit(jw, "}");
    }

    return NGX_OK;
}


static void
ngx_http_llm_anthropic_tool_result(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_message_t *m)
{
    ngx_uint_t            k, n;
    ngx_http_llm_part_t  *part;

    part = m->parts.elts;

    ngx_http_llm_jw_lit(jw, "{\"type\":\"tool_result\",\"tool_use_id\":");
    ngx_http_llm_jw_string(jw, &m->tool_call_id);

    if (m->parts.nelts == 1 && part[0].type == NGX_HTTP_LLM_PART_TEXT) {

        /* the common case: a string */

        ngx_http_llm_jw_lit(jw, ",\"content\":");
        ngx_http_llm_jw_string(jw, &part[0].text);

    } else if (m->parts.nelts) {
        ngx_http_llm_jw_lit(jw, ",\"content\":[");

        n = 0;

        for (k = 0; k < m->parts.nelts; k++) {
            ngx_http_llm_anthropic_part(r, jw, &part[k], &n);
        }

        ngx_http_llm_jw_lit(jw, "]");
    }

    if (m->is_error) {
        ngx_http_llm_jw_lit(jw, ",\"is_error\":true");
    }

    ngx_http_llm_jw_lit(jw, "}");
}


/* a content part of a user turn or a tool result; empty text is skipped */

static void
ngx_http_llm_anthropic_part(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_http_llm_part_t *part, ngx_uint_t *blocks)
{
    ngx_int_t   rc;
    ngx_str_t   media, data, *title;

    switch (part->type) {

    case NGX_HTTP_LLM_PART_TEXT:

        if (part->text.len == 0) {
            return;
        }

        ngx_http_llm_anthropic_comma(jw, blocks);
        ngx_http_llm_jw_lit(jw, "{\"type\":\"text\",\"text\":");
        ngx_http_llm_jw_string(jw, &part->text);
        ngx_http_llm_jw_lit(jw, "}");
        return;

    case NGX_HTTP_LLM_PART_IMAGE:
    case NGX_HTTP_LLM_PART_FILE:

        title = (part->type == NGX_HTTP_LLM_PART_FILE && part->name.len)
                ? &part->name : NULL;

        /* a data URL, in "url" or in "data" (OpenAI's file_data) */

        rc = ngx_http_llm_anthropic_data_url(part->url.len ? &part->url
                                                           : &part->data,
                                             &media, &data);

        if (rc == NGX_OK) {
            ngx_http_llm_anthropic_media(r, jw, &media, &data, title, blocks);
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llm anthropic: a data URL that is not base64 "
                          "is left out");
            return;
        }

        if (part->url.len) {

            /* passed on as a URL: Anthropic fetches it, we never do */

            ngx_http_llm_anthropic_comma(jw, blocks);

            if (part->type == NGX_HTTP_LLM_PART_IMAGE) {
                ngx_http_llm_jw_lit(jw, "{\"type\":\"image\",");

            } else {
                ngx_http_llm_jw_lit(jw, "{\"type\":\"document\",");
            }

            ngx_http_llm_jw_lit(jw, "\"source\":{\"type\":\"url\",\"url\":");
            ngx_http_llm_jw_string(jw, &part->url);
            ngx_http_llm_jw_lit(jw, "}}");
            return;
        }

        if (part->data.len == 0) {
            return;
        }

        media = part->media_type;

        if (media.len == 0 && part->type == NGX_HTTP_LLM_PART_FILE) {
            ngx_str_set(&media, "application/pdf");
        }

        ngx_http_llm_anthropic_media(r, jw, &media, &part->data, title,
                                     blocks);
        return;

    case NGX_HTTP_LLM_PART_AUDIO:
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llm anthropic: audio input is not supported, "
                      "it is left out");
        return;

    default:
        /* thinking in a user turn: not Anthropic's */
        return;
    }
}


/* base64 data: an image, a PDF or a plain text document */

static void
ngx_http_llm_anthropic_media(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_str_t *media, ngx_str_t *data, ngx_str_t *title, ngx_uint_t *blocks)
{
    ngx_str_t  type, text;

    type = *media;

    if (type.len == 0) {

        /* guessed from the first bytes of the image */

        if (data->len > 4 && ngx_memcmp(data->data, "iVBOR", 4) == 0) {
            ngx_str_set(&type, "image/png");

        } else if (data->len > 4 && ngx_memcmp(data->data, "R0lG", 4) == 0)
        {
            ngx_str_set(&type, "image/gif");

        } else if (data->len > 4 && ngx_memcmp(data->data, "UklG", 4) == 0)
        {
            ngx_str_set(&type, "image/webp");

        } else {
            ngx_str_set(&type, "image/jpeg");
        }
    }

    if (ngx_http_llm_anthropic_is(&type, "text/plain")) {

        text.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(data->len));
        if (text.data == NULL) {
            jw->failed = 1;
            return;
        }

        if (ngx_decode_base64(&text, data) != NGX_OK) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llm anthropic: a text document that is not "
                          "base64 is left out");
            return;
        }

        ngx_http_llm_anthropic_comma(jw, blocks);
        ngx_http_llm_jw_lit(jw, "{\"type\":\"document\",\"source\":"
                                "{\"type\":\"text\",\"media_type\":"
                                "\"text/plain\",\"data\":");
        ngx_http_llm_jw_string(jw, &text);
        ngx_http_llm_jw_lit(jw, "}");

    } else {
        ngx_http_llm_anthropic_comma(jw, blocks);

        if (type.len > 6 && ngx_strncasecmp(type.data, (u_char *) "image/", 6)
                            == 0)
        {
            ngx_http_llm_jw_lit(jw, "{\"type\":\"image\"");
            title = NULL;

        } else {
            ngx_http_llm_jw_lit(jw, "{\"type\":\"document\"");
        }

        ngx_http_llm_jw_lit(jw, ",\"source\":{\"type\":\"base64\","
                                "\"media_type\":");
        ngx_http_llm_jw_string(jw, &type);
        ngx_http_llm_jw_lit(jw, ",\"data\":");
        ngx_http_llm_jw_string(jw, data);
        ngx_http_llm_jw_lit(jw, "}");
    }

    if (title) {
        ngx_http_llm_jw_lit(jw, ",\"title\":");
        ngx_http_llm_jw_string(jw, title);
    }

    ngx_http_llm_jw_lit(jw, "}");
}


/*
 * "data:<media type>[;params];base64,<data>": NGX_OK, NGX_DECLINED if
 * not a data URL, NGX_ERROR if not base64
 */

static ngx_int_t
ngx_http_llm_anthropic_data_url(ngx_str_t *url, ngx_str_t *media,
    ngx_str_t *data)
{
    u_char  *p, *last, *comma, *semi;

    if (url->len < 5
        || ngx_strncasecmp(url->data, (u_char *) "data:", 5) != 0)
    {
        return NGX_DECLINED;
    }

    p = url->data + 5;
    last = url->data + url->len;

    comma = ngx_strlchr(p, last, ',');

    if (comma == NULL || comma - p < 7
        || ngx_strncasecmp(comma - 7, (u_char *) ";base64", 7) != 0)
    {
        return NGX_ERROR;
    }

    semi = ngx_strlchr(p, comma, ';');

    media->data = p;
    media->len = semi - p;

    data->data = comma + 1;
    data->len = last - comma - 1;

    return NGX_OK;
}


static void
ngx_http_llm_anthropic_tools(ngx_pool_t *pool, ngx_http_llm_jw_t *jw,
    ngx_http_llm_request_t *req, ngx_uint_t json_tool)
{
    ngx_str_t             desc;
    ngx_uint_t            i, parallel;
    ngx_http_llm_tool_t  *tool;

    if (json_tool) {
        ngx_http_llm_jw_lit(jw, ",\"tools\":[{\"name\":\""
                                NGX_HTTP_LLM_ANTHROPIC_JSON_TOOL "\","
                                "\"description\":");

        if (req->schema_name.len) {
            desc.len = sizeof(NGX_HTTP_LLM_ANTHROPIC_JSON_DESC " ()") - 1
                       + req->schema_name.len;
            desc.data = ngx_pnalloc(pool, desc.len);
            if (desc.data == NULL) {
                jw->failed = 1;
                return;
            }

            ngx_sprintf(desc.data, NGX_HTTP_LLM_ANTHROPIC_JSON_DESC " (%V)",
                        &req->schema_name);

        } else {
            ngx_str_set(&desc, NGX_HTTP_LLM_ANTHROPIC_JSON_DESC);
        }

        ngx_http_llm_jw_string(jw, &desc);
        ngx_http_llm_jw_lit(jw, ",\"input_schema\":");

        if (req->format == NGX_HTTP_LLM_FORMAT_SCHEMA && req->schema.len) {
            ngx_http_llm_jw_raw(jw, req->schema.data, req->schema.len);

        } else {
            ngx_http_llm_jw_lit(jw, "{\"type\":\"object\"}");
        }

        ngx_http_llm_jw_lit(jw, "}],\"tool_choice\":{\"type\":\"tool\","
                                "\"name\":\""
                                NGX_HTTP_LLM_ANTHROPIC_JSON_TOOL "\"}");
        return;
    }

    if (req->tools.nelts == 0) {
        return;
    }

    tool = req->tools.elts;

    for (i = 0; i < req->tools.nelts; i++) {
        if (i) {
            ngx_http_llm_jw_lit(jw, ",{\"name\":");

        } else {
            ngx_http_llm_jw_lit(jw, ",\"tools\":[{\"name\":");
        }

        ngx_http_llm_jw_string(jw, &tool[i].name);

        if (tool[i].description.len) {
            ngx_http_llm_jw_lit(jw, ",\"description\":");
            ngx_http_llm_jw_string(jw, &tool[i].description);
        }

        ngx_http_llm_jw_lit(jw, ",\"input_schema\":");

        if (tool[i].parameters.len) {
            ngx_http_llm_jw_raw(jw, tool[i].parameters.data,
                                tool[i].parameters.len);

        } else {
            ngx_http_llm_jw_lit(jw, "{\"type\":\"object\",\"properties\":{}}");
        }

        ngx_http_llm_jw_lit(jw, "}");
    }

    ngx_http_llm_jw_lit(jw, "]");

    parallel = (req->parallel_tool_calls == 0);

    switch (req->tool_choice) {

    case NGX_HTTP_LLM_TOOL_CHOICE_NONE:
        ngx_http_llm_jw_lit(jw, ",\"tool_choice\":{\"type\":\"none\"}");
        return;

    case NGX_HTTP_LLM_TOOL_CHOICE_ANY:
        ngx_http_llm_jw_lit(jw, ",\"tool_choice\":{\"type\":\"any\"");
        break;

    case NGX_HTTP_LLM_TOOL_CHOICE_NAMED:
        ngx_http_llm_jw_lit(jw, ",\"tool_choice\":{\"type\":\"tool\","
                                "\"name\":");
        ngx_http_llm_jw_string(jw, &req->tool_choice_name);
        break;

    case NGX_HTTP_LLM_TOOL_CHOICE_AUTO:
        ngx_http_llm_jw_lit(jw, ",\"tool_choice\":{\"type\":\"auto\"");
        break;

    default: /* unset */

        if (!parallel) {
            return;
        }

        ngx_http_llm_jw_lit(jw, ",\"tool_choice\":{\"type\":\"auto\"");
    }

    if (parallel) {
        ngx_http_llm_jw_lit(jw, ",\"disable_parallel_tool_use\":true");
    }

    ngx_http_llm_jw_lit(jw, "}");
}


static ngx_int_t
ngx_http_llm_anthropic_number(ngx_str_t *s, double *d)
{
    char  *end, buf[64];

    if (s->len == 0 || s->len >= sizeof(buf)) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';

    *d = strtod(buf, &end);

    return (*end == '\0') ? NGX_OK : NGX_ERROR;
}


static ngx_uint_t
ngx_http_llm_anthropic_blank(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] != ' ' && s->data[i] != '\t' && s->data[i] != CR
            && s->data[i] != LF)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * JSON text without blanks between its tokens: arguments as OpenAI sends
 * them, whatever the indentation of the input in the answer
 */

static ngx_int_t
ngx_http_llm_anthropic_compact(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char      *p, *d, *last, *dst;
    ngx_uint_t   str, esc, blanks;

    last = s->data + s->len;
    str = 0;
    esc = 0;
    blanks = 0;
    d = NULL;
    dst = NULL;

    for ( ;; ) {

        for (p = s->data; p < last; p++) {

            if (str) {
                if (esc) {
                    esc = 0;

                } else if (*p == '\\') {
                    esc = 1;

                } else if (*p == '"') {
                    str = 0;
                }

            } else if (*p == ' ' || *p == '\t' || *p == CR || *p == LF) {
                blanks = 1;
                continue;

            } else if (*p == '"') {
                str = 1;
            }

            if (d) {
                *d++ = *p;
            }
        }

        if (d) {
            s->data = dst;
            s->len = d - dst;
            return NGX_OK;
        }

        if (!blanks) {
            return NGX_OK;
        }

        /* a second pass copies */

        dst = ngx_pnalloc(pool, s->len);
        if (dst == NULL) {
            return NGX_ERROR;
        }

        d = dst;
        str = 0;
        esc = 0;
    }
}


static void
ngx_http_llm_anthropic_comma(ngx_http_llm_jw_t *jw, ngx_uint_t *n)
{
    if ((*n)++) {
        ngx_http_llm_jw_lit(jw, ",");
    }
}


/* response ----------------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_anthropic_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out)
{
    u_char                    *p;
    size_t                     tlen, rlen;
    ngx_int_t                  rc, c, b, i, v, json_tool;
    ngx_int_t                  input[3];
    ngx_str_t                  type, s, reason, *str;
    ngx_uint_t                 k;
    ngx_array_t                texts, reasons;
    ngx_http_llm_json_t        js;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_response_t    resp;
    ngx_http_llm_tool_call_t  *tc;

    if (ctx->count_tokens) {
        return ngx_http_llm_count_response(r, ctx, body, "input_tokens", out);
    }

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len,
                                 NGX_HTTP_LLM_ANTHROPIC_JSON_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    /* a Message: "type":"message" (if there) and a "content" array */

    if (ngx_http_llm_anthropic_string(r->pool, &js, 0, "type", &type)
        == NGX_OK
        && !ngx_http_llm_anthropic_is(&type, "message"))
    {
        return NGX_DECLINED;
    }

    c = ngx_http_llm_json_get(&js, 0, "content");

    if (c < 0 || ngx_http_llm_json_type(&js, c) != NGX_HTTP_LLM_JSON_ARRAY) {
        return NGX_DECLINED;
    }

    ngx_memzero(&resp, sizeof(ngx_http_llm_response_t));
    ngx_memzero(input, sizeof(input));

    if (ngx_array_init(&resp.tool_calls, r->pool, 2,
                       sizeof(ngx_http_llm_tool_call_t))
        != NGX_OK
        || ngx_array_init(&resp.thinking, r->pool, 1,
                          sizeof(ngx_http_llm_part_t))
           != NGX_OK
        || ngx_array_init(&texts, r->pool, 2, sizeof(ngx_str_t)) != NGX_OK
        || ngx_array_init(&reasons, r->pool, 1, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    resp.created = ngx_time();

    if (ngx_http_llm_anthropic_string(r->pool, &js, 0, "id", &resp.id)
        == NGX_ERROR
        || ngx_http_llm_anthropic_string(r->pool, &js, 0, "model",
                                         &resp.model)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    json_tool = ngx_http_llm_anthropic_json_tool(ctx->req);

    for (i = 0; ; i++) {
        b = ngx_http_llm_json_index(&js, c, i);

        if (b < 0) {
            break;
        }

        if (ngx_http_llm_anthropic_string(r->pool, &js, b, "type", &type)
            != NGX_OK)
        {
            continue;
        }

        if (ngx_http_llm_anthropic_is(&type, "text")) {

            str = ngx_array_push(&texts);
            if (str == NULL) {
                return NGX_ERROR;
            }

            if (ngx_http_llm_anthropic_string(r->pool, &js, b, "text", str)
                == NGX_ERROR)
            {
                return NGX_ERROR;
            }

        } else if (ngx_http_llm_anthropic_is(&type, "thinking")) {

            part = ngx_array_push(&resp.thinking);
            str = ngx_array_push(&reasons);

            if (part == NULL || str == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(part, sizeof(ngx_http_llm_part_t));
            part->type = NGX_HTTP_LLM_PART_THINKING;

            if (ngx_http_llm_anthropic_string(r->pool, &js, b, "thinking",
                                              &part->text)
                == NGX_ERROR
                || ngx_http_llm_anthropic_string(r->pool, &js, b,
                                                 "signature",
                                                 &part->signature)
                   == NGX_ERROR)
            {
                return NGX_ERROR;
            }

            *str = part->text;

        } else if (ngx_http_llm_anthropic_is(&type, "redacted_thinking")) {

            part = ngx_array_push(&resp.thinking);
            if (part == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(part, sizeof(ngx_http_llm_part_t));
            part->type = NGX_HTTP_LLM_PART_REDACTED;

            if (ngx_http_llm_anthropic_string(r->pool, &js, b, "data",
                                              &part->data)
                == NGX_ERROR)
            {
                return NGX_ERROR;
            }

        } else if (ngx_http_llm_anthropic_is(&type, "tool_use")) {

            if (ngx_http_llm_anthropic_string(r->pool, &js, b, "name", &s)
                == NGX_ERROR)
            {
                return NGX_ERROR;
            }

            v = ngx_http_llm_json_get(&js, b, "input");

            if (json_tool
                && ngx_http_llm_anthropic_is(&s,
                                             NGX_HTTP_LLM_ANTHROPIC_JSON_TOOL))
            {
                /* the forced response_format tool: its input is the text */

                str = ngx_array_push(&texts);
                if (str == NULL) {
                    return NGX_ERROR;
                }

                if (v >= 0) {
                    ngx_http_llm_json_raw(&js, v, str);

                    if (ngx_http_llm_anthropic_compact(r->pool, str)
                        != NGX_OK)
                    {
                        return NGX_ERROR;
                    }

                } else {
                    ngx_str_set(str, "{}");
                }

                continue;
            }

            tc = ngx_array_push(&resp.tool_calls);
            if (tc == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));
            tc->name = s;

            if (ngx_http_llm_anthropic_string(r->pool, &js, b, "id",
                                              &tc->id)
                == NGX_ERROR)
            {
                return NGX_ERROR;
            }

            if (v >= 0
                && ngx_http_llm_json_type(&js, v) == NGX_HTTP_LLM_JSON_OBJECT)
            {
                ngx_http_llm_json_raw(&js, v, &tc->arguments);

                if (ngx_http_llm_anthropic_compact(r->pool, &tc->arguments)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

            } else {
                ngx_str_set(&tc->arguments, "{}");
            }
        }

        /* server tool blocks have no OpenAI equivalent */
    }

    /* text blocks joined, thinking blocks joined */

    for (k = 0, tlen = 0, str = texts.elts; k < texts.nelts; k++) {
        tlen += str[k].len;
    }

    for (k = 0, rlen = 0, str = reasons.elts; k < reasons.nelts; k++) {
        rlen += str[k].len;
    }

    if (texts.nelts == 1) {
        str = texts.elts;
        resp.text = str[0];

    } else if (tlen) {
        p = ngx_pnalloc(r->pool, tlen);
        if (p == NULL) {
            return NGX_ERROR;
        }

        resp.text.data = p;
        resp.text.len = tlen;

        for (k = 0, str = texts.elts; k < texts.nelts; k++) {
            if (str[k].len) {   /* a block without "text" has data NULL */
                p = ngx_cpymem(p, str[k].data, str[k].len);
            }
        }
    }

    if (reasons.nelts == 1) {
        str = reasons.elts;
        resp.reasoning = str[0];

    } else if (rlen) {
        p = ngx_pnalloc(r->pool, rlen);
        if (p == NULL) {
            return NGX_ERROR;
        }

        resp.reasoning.data = p;
        resp.reasoning.len = rlen;

        for (k = 0, str = reasons.elts; k < reasons.nelts; k++) {
            if (str[k].len) {   /* a block without "thinking": data NULL */
                p = ngx_cpymem(p, str[k].data, str[k].len);
            }
        }
    }

    if (ngx_http_llm_anthropic_string(r->pool, &js, 0, "stop_reason",
                                      &reason)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    resp.finish = ngx_http_llm_anthropic_finish(&reason, json_tool);

    if (resp.finish == NGX_HTTP_LLM_FINISH_FILTER) {
        v = ngx_http_llm_json_get(&js, 0, "stop_details");

        if (ngx_http_llm_anthropic_string(r->pool, &js, v, "explanation",
                                          &resp.refusal)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }
    }

    ngx_http_llm_anthropic_usage(&js, ngx_http_llm_json_get(&js, 0, "usage"),
                                 input, &ctx->usage);
    resp.usage = ctx->usage;

    return ngx_http_llm_emit_response(r, ctx, &resp, out);
}


static ngx_uint_t
ngx_http_llm_anthropic_finish(ngx_str_t *reason, ngx_uint_t json_tool)
{
    if (ngx_http_llm_anthropic_is(reason, "max_tokens")
        || ngx_http_llm_anthropic_is(reason, "model_context_window_exceeded"))
    {
        return NGX_HTTP_LLM_FINISH_LENGTH;
    }

    if (ngx_http_llm_anthropic_is(reason, "tool_use")) {
        return json_tool ? NGX_HTTP_LLM_FINISH_STOP
                         : NGX_HTTP_LLM_FINISH_TOOL_CALLS;
    }

    if (ngx_http_llm_anthropic_is(reason, "refusal")) {
        return NGX_HTTP_LLM_FINISH_FILTER;
    }

    /* end_turn, stop_sequence, pause_turn, and whatever comes next */

    return NGX_HTTP_LLM_FINISH_STOP;
}


/*
 * Anthropic's input_tokens leave cache reads and writes out: OpenAI's
 * prompt_tokens are all three.  In a stream, message_delta may repeat
 * some of them: "input" keeps the three counts between the events.
 * output_tokens are cumulative.
 */

static void
ngx_http_llm_anthropic_usage(ngx_http_llm_json_t *js, ngx_int_t u,
    ngx_int_t *input, ngx_http_llm_usage_t *usage)
{
    ngx_int_t    n, v;
    ngx_uint_t   i, seen;

    static const char  *names[] = {
        "input_tokens", "cache_read_input_tokens",
        "cache_creation_input_tokens"
    };

    if (u < 0 || ngx_http_llm_json_type(js, u) != NGX_HTTP_LLM_JSON_OBJECT) {
        return;
    }

    seen = 0;

    for (i = 0; i < 3; i++) {
        v = ngx_http_llm_json_get(js, u, names[i]);

        if (ngx_http_llm_json_int(js, v, &n) == NGX_OK) {
            input[i] = n;
            seen = 1;
        }
    }

    if (seen) {
        usage->prompt = input[0] + input[1] + input[2];
        usage->cached = input[1];
        usage->known = 1;
    }

    v = ngx_http_llm_json_get(js, u, "output_tokens");

    if (ngx_http_llm_json_int(js, v, &n) == NGX_OK) {
        usage->completion = n;
        usage->known = 1;
    }

    usage->total = usage->prompt + usage->completion;
}


/* a string member, unescaped; NGX_DECLINED if absent or not a string */

static ngx_int_t
ngx_http_llm_anthropic_string(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t obj, const char *key, ngx_str_t *out)
{
    ngx_int_t  i, rc;

    ngx_str_null(out);

    i = ngx_http_llm_json_get(js, obj, key);

    if (i < 0 || ngx_http_llm_json_type(js, i) != NGX_HTTP_LLM_JSON_STRING) {
        return NGX_DECLINED;
    }

    rc = ngx_http_llm_json_string(pool, js, i, out);

    if (rc == NGX_DECLINED) {
        ngx_str_null(out);
    }

    return rc;
}


/* stream ------------------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_anthropic_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll)
{
    ngx_int_t                         rc;
    ngx_str_t                         type, msg, etype;
    ngx_pool_cleanup_t               *cln;
    ngx_http_llm_json_t               js;
    ngx_http_llm_delta_t              delta;
    ngx_http_llm_anthropic_stream_t  *st;

    st = ctx->in_state;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_anthropic_stream_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        /* scratch memory for one event at a time: tokens, unescaping */

        st->pool = ngx_create_pool(4096, r->connection->log);
        if (st->pool == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_llm_anthropic_cleanup;
        cln->data = st->pool;

        if (ngx_array_init(&st->blocks, r->pool, 4,
                           sizeof(ngx_http_llm_anthropic_block_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        st->json_tool = ngx_http_llm_anthropic_json_tool(ctx->req);

        ctx->in_state = st;
    }

    if (data == NULL) {

        /* the upstream body ended */

        if (st->stopped || st->failed) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" stream ended without "
                      "message_stop", &ctx->provider->name);

        st->failed = 1;

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_ERROR;
        delta.status = NGX_HTTP_BAD_GATEWAY;
        ngx_str_set(&delta.error_type, "api_error");
        ngx_str_set(&delta.error_message,
                    "The model provider's stream ended before the message "
                    "was complete.");

        return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
    }

    if (st->stopped || st->failed || data->len == 0) {
        return NGX_OK;
    }

    ngx_reset_pool(st->pool);

    rc = ngx_http_llm_json_parse(st->pool, &js, data->data, data->len,
                                 NGX_HTTP_LLM_ANTHROPIC_JSON_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llm provider \"%V\" sent an event that is not a "
                      "JSON object, ignored", &ctx->provider->name);
        return NGX_OK;
    }

    /* the payload's "type" is the event's name */

    rc = ngx_http_llm_anthropic_string(st->pool, &js, 0, "type", &type);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        if (name == NULL || name->len == 0) {
            return NGX_OK;
        }

        type = *name;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm anthropic event \"%V\"", &type);

    if (ngx_http_llm_anthropic_is(&type, "error")) {
        return ngx_http_llm_anthropic_stream_error(r, ctx, st, &js, ll);
    }

    rc = ngx_http_llm_anthropic_event(r, ctx, st, &type, &js, ll);

    if (rc == NGX_DECLINED) {
        ngx_str_set(&msg, "The model provider sent an invalid event.");
        ngx_str_set(&etype, "api_error");

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" sent an invalid \"%V\" event",
                      &ctx->provider->name, &type);

        st->failed = 1;

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_ERROR;
        delta.status = NGX_HTTP_BAD_GATEWAY;
        delta.error_type = etype;
        delta.error_message = msg;

        return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
    }

    return rc;
}


static void
ngx_http_llm_anthropic_cleanup(void *data)
{
    ngx_pool_t  *pool = data;

    ngx_destroy_pool(pool);
}


/* NGX_OK, NGX_ERROR, or NGX_DECLINED: an event that cannot be read */

static ngx_int_t
ngx_http_llm_anthropic_event(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_anthropic_stream_t *st, ngx_str_t *type,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll)
{
    ngx_int_t   rc, d;
    ngx_str_t   reason;

    if (ngx_http_llm_anthropic_is(type, "message_start")) {

        if (st->started) {
            /* a repeated message_start (seen in the wild) changes nothing */
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_start(r, ctx, st, js,
                                            ngx_http_llm_json_get(js, 0,
                                                                  "message"),
                                            ll);
    }

    if (!(ngx_http_llm_anthropic_is(type, "content_block_start")
          || ngx_http_llm_anthropic_is(type, "content_block_delta")
          || ngx_http_llm_anthropic_is(type, "content_block_stop")
          || ngx_http_llm_anthropic_is(type, "message_delta")
          || ngx_http_llm_anthropic_is(type, "message_stop")))
    {
        /* ping, and event types of the future */
        return NGX_OK;
    }

    if (!st->started) {
        rc = ngx_http_llm_anthropic_start(r, ctx, st, js, -1, ll);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_anthropic_is(type, "content_block_start")) {
        return ngx_http_llm_anthropic_block_start(r, ctx, st, js, ll);
    }

    if (ngx_http_llm_anthropic_is(type, "content_block_delta")) {
        return ngx_http_llm_anthropic_block_delta(r, ctx, st, js, ll);
    }

    if (ngx_http_llm_anthropic_is(type, "content_block_stop")) {
        return ngx_http_llm_anthropic_block_stop(r, ctx, st, js, ll);
    }

    if (ngx_http_llm_anthropic_is(type, "message_delta")) {

        ngx_http_llm_anthropic_usage(js, ngx_http_llm_json_get(js, 0, "usage"),
                                     st->input, &ctx->usage);

        d = ngx_http_llm_json_get(js, 0, "delta");

        rc = ngx_http_llm_anthropic_string(st->pool, js, d, "stop_reason",
                                           &reason);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK || st->finished) {
            return NGX_OK;
        }

        st->finished = 1;

        return ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_FINISH,
                   ngx_http_llm_anthropic_finish(&reason, st->json_tool),
                   NULL, ll);
    }

    /* message_stop */

    if (!st->finished) {
        st->finished = 1;

        rc = ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_FINISH,
                                         NGX_HTTP_LLM_FINISH_STOP, NULL, ll);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    st->stopped = 1;

    rc = ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_USAGE, 0,
                                     NULL, ll);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_DONE, 0,
                                       NULL, ll);
}


/* START: the message's id and model, kept for the whole stream */

static ngx_int_t
ngx_http_llm_anthropic_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_anthropic_stream_t *st, ngx_http_llm_json_t *js,
    ngx_int_t msg, ngx_chain_t ***ll)
{
    ngx_str_t             id, model;
    ngx_http_llm_delta_t  delta;

    st->started = 1;

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_START;

    if (msg >= 0) {
        if (ngx_http_llm_anthropic_string(st->pool, js, msg, "id", &id)
            == NGX_ERROR
            || ngx_http_llm_anthropic_string(st->pool, js, msg, "model",
                                             &model)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (id.len) {
            delta.id.data = ngx_pstrdup(r->pool, &id);
            if (delta.id.data == NULL) {
                return NGX_ERROR;
            }

            delta.id.len = id.len;
        }

        if (model.len) {
            delta.model.data = ngx_pstrdup(r->pool, &model);
            if (delta.model.data == NULL) {
                return NGX_ERROR;
            }

            delta.model.len = model.len;
        }

        ngx_http_llm_anthropic_usage(js,
                                     ngx_http_llm_json_get(js, msg, "usage"),
                                     st->input, &ctx->usage);
    }

    return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
}


static ngx_int_t
ngx_http_llm_anthropic_block_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll)
{
    ngx_int_t                        cb, idx, v, rc;
    ngx_str_t                        type, s, id, name;
    ngx_http_llm_delta_t             delta;
    ngx_http_llm_anthropic_block_t  *blk;

    if (ngx_http_llm_json_int(js, ngx_http_llm_json_get(js, 0, "index"), &idx)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    cb = ngx_http_llm_json_get(js, 0, "content_block");

    rc = ngx_http_llm_anthropic_string(st->pool, js, cb, "type", &type);

    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_DECLINED;
    }

    blk = ngx_array_push(&st->blocks);
    if (blk == NULL) {
        return NGX_ERROR;
    }

    blk->index = idx;
    blk->kind = NGX_HTTP_LLM_AB_OTHER;
    blk->ordinal = 0;
    blk->args = 0;

    if (ngx_http_llm_anthropic_is(&type, "text")) {
        blk->kind = NGX_HTTP_LLM_AB_TEXT;

        if (ngx_http_llm_anthropic_string(st->pool, js, cb, "text", &s)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (s.len == 0) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_TEXT, 0,
                                           &s, ll);
    }

    if (ngx_http_llm_anthropic_is(&type, "thinking")) {
        blk->kind = NGX_HTTP_LLM_AB_THINKING;

        if (ngx_http_llm_anthropic_string(st->pool, js, cb, "thinking", &s)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (s.len == 0) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_emit(r, ctx,
                                           NGX_HTTP_LLM_DELTA_REASONING, 0,
                                           &s, ll);
    }

    if (ngx_http_llm_anthropic_is(&type, "redacted_thinking")) {

        /*
         * one whole block, no deltas: the Anthropic surface sends it on
         * byte-exact, the others have no place for it and drop it
         */

        if (ngx_http_llm_anthropic_string(st->pool, js, cb, "data", &s)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (s.len == 0) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_emit(r, ctx,
                                           NGX_HTTP_LLM_DELTA_REDACTED, 0,
                                           &s, ll);
    }

    if (!ngx_http_llm_anthropic_is(&type, "tool_use")) {
        /* server tools have no OpenAI form */
        return NGX_OK;
    }

    if (ngx_http_llm_anthropic_string(st->pool, js, cb, "id", &id)
        == NGX_ERROR
        || ngx_http_llm_anthropic_string(st->pool, js, cb, "name", &name)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (st->json_tool
        && ngx_http_llm_anthropic_is(&name, NGX_HTTP_LLM_ANTHROPIC_JSON_TOOL))
    {
        blk->kind = NGX_HTTP_LLM_AB_JSON;
        return NGX_OK;
    }

    /* OpenAI's index counts tool calls only, not content blocks */

    blk->kind = NGX_HTTP_LLM_AB_TOOL;
    blk->ordinal = st->tools++;

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_TOOL_START;
    delta.index = blk->ordinal;

    delta.id.len = id.len;
    delta.id.data = ngx_pstrdup(r->pool, &id);
    delta.name.len = name.len;
    delta.name.data = ngx_pstrdup(r->pool, &name);

    if (delta.id.data == NULL || delta.name.data == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llm_emit_delta(r, ctx, &delta, ll);

    if (rc != NGX_OK) {
        return rc;
    }

    /* the input is "{}" at the start, but for proxies that send it whole */

    v = ngx_http_llm_json_get(js, cb, "input");

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_OBJECT
        || js->toks[v].size == 0)
    {
        return NGX_OK;
    }

    ngx_http_llm_json_raw(js, v, &s);
    blk->args = 1;

    if (ngx_http_llm_anthropic_compact(st->pool, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_TOOL_ARGS,
                                       blk->ordinal, &s, ll);
}


static ngx_int_t
ngx_http_llm_anthropic_block_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll)
{
    ngx_int_t                        d, rc;
    ngx_str_t                        type, s;
    ngx_http_llm_anthropic_block_t  *blk;

    blk = ngx_http_llm_anthropic_block(st, js);

    d = ngx_http_llm_json_get(js, 0, "delta");

    rc = ngx_http_llm_anthropic_string(st->pool, js, d, "type", &type);

    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_DECLINED;
    }

    if (ngx_http_llm_anthropic_is(&type, "text_delta")) {

        if (blk && blk->kind != NGX_HTTP_LLM_AB_TEXT) {
            return NGX_OK;
        }

        rc = ngx_http_llm_anthropic_string(st->pool, js, d, "text", &s);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (s.len == 0) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_TEXT, 0,
                                           &s, ll);
    }

    if (ngx_http_llm_anthropic_is(&type, "input_json_delta")) {

        if (blk == NULL
            || (blk->kind != NGX_HTTP_LLM_AB_TOOL
                && blk->kind != NGX_HTTP_LLM_AB_JSON))
        {
            return NGX_OK;
        }

        rc = ngx_http_llm_anthropic_string(st->pool, js, d, "partial_json",
                                           &s);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (s.len == 0) {
            return NGX_OK;
        }

        blk->args = 1;

        if (blk->kind == NGX_HTTP_LLM_AB_JSON) {
            return ngx_http_llm_anthropic_emit(r, ctx,
                                               NGX_HTTP_LLM_DELTA_TEXT, 0,
                                               &s, ll);
        }

        return ngx_http_llm_anthropic_emit(r, ctx,
                                           NGX_HTTP_LLM_DELTA_TOOL_ARGS,
                                           blk->ordinal, &s, ll);
    }

    if (ngx_http_llm_anthropic_is(&type, "thinking_delta")) {

        rc = ngx_http_llm_anthropic_string(st->pool, js, d, "thinking", &s);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (s.len == 0) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_emit(r, ctx,
                                           NGX_HTTP_LLM_DELTA_REASONING, 0,
                                           &s, ll);
    }

    if (ngx_http_llm_anthropic_is(&type, "signature_delta")) {

        rc = ngx_http_llm_anthropic_string(st->pool, js, d, "signature", &s);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (s.len == 0) {
            return NGX_OK;
        }

        return ngx_http_llm_anthropic_emit(r, ctx,
                                           NGX_HTTP_LLM_DELTA_SIGNATURE, 0,
                                           &s, ll);
    }

    /* citations_delta and the like */

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_anthropic_block_stop(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll)
{
    ngx_str_t                        s;
    ngx_http_llm_anthropic_block_t  *blk;

    blk = ngx_http_llm_anthropic_block(st, js);

    if (blk == NULL || blk->kind != NGX_HTTP_LLM_AB_TOOL || blk->args) {
        return NGX_OK;
    }

    /* a tool without arguments: "{}", so that they parse as JSON */

    blk->args = 1;
    ngx_str_set(&s, "{}");

    return ngx_http_llm_anthropic_emit(r, ctx, NGX_HTTP_LLM_DELTA_TOOL_ARGS,
                                       blk->ordinal, &s, ll);
}


static ngx_http_llm_anthropic_block_t *
ngx_http_llm_anthropic_block(ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js)
{
    ngx_int_t                        idx;
    ngx_uint_t                       i;
    ngx_http_llm_anthropic_block_t  *blk;

    if (ngx_http_llm_json_int(js, ngx_http_llm_json_get(js, 0, "index"), &idx)
        != NGX_OK)
    {
        return NULL;
    }

    blk = st->blocks.elts;

    for (i = st->blocks.nelts; i > 0; i--) {
        if (blk[i - 1].index == (ngx_uint_t) idx) {
            return &blk[i - 1];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_llm_anthropic_emit(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t type, ngx_uint_t index, ngx_str_t *text, ngx_chain_t ***ll)
{
    ngx_http_llm_delta_t  delta;

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));

    delta.type = type;

    if (type == NGX_HTTP_LLM_DELTA_FINISH) {
        delta.finish = index;

    } else {
        delta.index = index;
    }

    if (text) {
        delta.text = *text;
    }

    return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
}


/* an "error" event: the stream ends with it, without [DONE] */

static ngx_int_t
ngx_http_llm_anthropic_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_anthropic_stream_t *st,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll)
{
    ngx_int_t             e;
    ngx_str_t             code;
    ngx_http_llm_delta_t  delta;

    st->failed = 1;

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_ERROR;
    delta.status = NGX_HTTP_BAD_GATEWAY;

    e = ngx_http_llm_json_get(js, 0, "error");

    if (ngx_http_llm_anthropic_error_fields(r->pool, js, e,
                                            &delta.error_message,
                                            &delta.error_type, &code)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llm_anthropic_is(&delta.error_type, "overloaded_error")) {
        delta.status = NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (delta.error_type.len == 0) {
        ngx_str_set(&delta.error_type, "api_error");
    }

    if (delta.error_message.len == 0) {
        ngx_str_set(&delta.error_message,
                    "The model provider returned an error.");
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm provider \"%V\" sent an error event: %V",
                  &ctx->provider->name, &delta.error_type);

    return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
}


/* error -------------------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_anthropic_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_str_t *message, ngx_str_t *type, ngx_str_t *code)
{
    ngx_int_t            rc, e;
    ngx_http_llm_json_t  js;

    if (body->len == 0) {
        return NGX_DECLINED;
    }

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len, 65536);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    /* {"type":"error","error":{"type":"...","message":"..."}} */

    e = ngx_http_llm_json_get(&js, 0, "error");

    if (e < 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_llm_json_type(&js, e) == NGX_HTTP_LLM_JSON_STRING) {
        return ngx_http_llm_json_string(r->pool, &js, e, message) == NGX_OK
               ? NGX_OK : NGX_DECLINED;
    }

    rc = ngx_http_llm_anthropic_error_fields(r->pool, &js, e, message, type,
                                             code);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    return message->len ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_llm_anthropic_error_fields(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t e, ngx_str_t *message, ngx_str_t *type, ngx_str_t *code)
{
    ngx_str_t                        t;
    ngx_http_llm_anthropic_error_t  *err;

    ngx_str_null(message);
    ngx_str_null(type);
    ngx_str_null(code);

    if (ngx_http_llm_anthropic_string(pool, js, e, "message", message)
        == NGX_ERROR
        || ngx_http_llm_anthropic_string(pool, js, e, "type", &t)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (t.len == 0) {
        return NGX_OK;
    }

    for (err = ngx_http_llm_anthropic_errors; err->type.len; err++) {
        if (err->type.len == t.len
            && ngx_memcmp(err->type.data, t.data, t.len) == 0)
        {
            break;
        }
    }

    if (err->type.len) {
        *type = err->openai;
    }

    if (type->len != t.len || ngx_memcmp(type->data, t.data, t.len) != 0) {
        /* folded or unknown: the original type is the code */
        *code = t;
    }

    return NGX_OK;
}
