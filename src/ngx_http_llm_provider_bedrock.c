
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_eventstream.h"
#include "ngx_http_llm_sigv4.h"
#include "ngx_http_llm_embeddings.h"


/*
 * AWS Bedrock Runtime, Converse and ConverseStream (PROVIDERS.md 6):
 * always translated.  Requests are signed with SigV4 (or carry a Bedrock
 * API key as a bearer token); streams come in the binary event-stream
 * framing, decoded by ngx_http_llm_eventstream.c before they get here:
 * "name" is the frame's :event-type and the decoder (ctx->sse) tells
 * exceptions apart.
 */


#define NGX_HTTP_LLM_BEDROCK_JSON_TOKENS  (4 * 1024 * 1024)
#define NGX_HTTP_LLM_BEDROCK_BLOCKS       64

/* embeddings models, by their id: InvokeModel bodies of their own */
#define NGX_HTTP_LLM_BEDROCK_TITAN        1   /* one input a request */
#define NGX_HTTP_LLM_BEDROCK_COHERE       2   /* up to 96 */
#define NGX_HTTP_LLM_BEDROCK_COHERE_MAX   96


typedef struct {
    ngx_pool_t   *pool;         /* one event's tokens, reset after it */
    ngx_int_t     tools[NGX_HTTP_LLM_BEDROCK_BLOCKS]; /* block -> call */
    ngx_uint_t    ntools;
    ngx_uint_t    finish;
    unsigned      started:1;
    unsigned      finished:1;
    unsigned      stopped:1;
    unsigned      failed:1;
} ngx_http_llm_bedrock_stream_t;


static ngx_int_t ngx_http_llm_bedrock_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_bedrock_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_jw_t *jw);
static void ngx_http_llm_bedrock_part(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_part_t *part, ngx_uint_t *n);
static void ngx_http_llm_bedrock_comma(ngx_http_llm_jw_t *jw, ngx_uint_t *n);
static void ngx_http_llm_bedrock_json(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_str_t *s);
static ngx_int_t ngx_http_llm_bedrock_path(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *path);
static ngx_int_t ngx_http_llm_bedrock_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);
static ngx_int_t ngx_http_llm_bedrock_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_bedrock_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_bedrock_stream_t *st,
    ngx_str_t *name, ngx_http_llm_json_t *js, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_bedrock_emit(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t type, ngx_uint_t index,
    ngx_str_t *text, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_bedrock_fail(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_bedrock_stream_t *st,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *message,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_bedrock_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code);
static ngx_uint_t ngx_http_llm_bedrock_finish(ngx_str_t *reason);
static void ngx_http_llm_bedrock_usage(ngx_http_llm_json_t *js, ngx_int_t u,
    ngx_http_llm_usage_t *usage);
static ngx_int_t ngx_http_llm_bedrock_string(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t obj, const char *key, ngx_str_t *s);
static void ngx_http_llm_bedrock_cleanup(void *data);
static ngx_int_t ngx_http_llm_bedrock_check(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_bedrock_bad(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, const char *fmt, ...);
static ngx_uint_t ngx_http_llm_bedrock_family(ngx_str_t *model);
static ngx_int_t ngx_http_llm_bedrock_doc_format(ngx_str_t *media,
    ngx_str_t *format);
static void ngx_http_llm_bedrock_document(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_part_t *part);
static void ngx_http_llm_bedrock_embed_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_jw_t *jw);
static ngx_int_t ngx_http_llm_bedrock_embed_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);


const ngx_http_llm_provider_t  ngx_http_llm_provider_bedrock = {
    ngx_string("bedrock"),
    ngx_string(""),
    0,
    0,                                     /* openai_format */
    1,                                     /* embeddings */
    ngx_http_llm_bedrock_create_request,
    ngx_http_llm_bedrock_stream_event,
    ngx_http_llm_bedrock_response,
    ngx_http_llm_bedrock_error,
    ngx_http_llm_bedrock_check
};


#define ngx_http_llm_bedrock_is(s, lit)                                       \
    ((s)->len == sizeof(lit) - 1                                              \
     && ngx_memcmp((s)->data, lit, sizeof(lit) - 1) == 0)


static ngx_int_t
ngx_http_llm_bedrock_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    u_char                        *p, *colon;
    u_char                         date[16];
    size_t                         len;
    ngx_str_t                      path, auth, token, body;
    ngx_buf_t                     *b;
    ngx_uint_t                     bearer;
    ngx_chain_t                   *cl, *bcl;
    ngx_http_llm_jw_t              jw;
    ngx_http_llm_sigv4_t           sv;
    ngx_http_llm_provider_conf_t  *pc;

    pc = ctx->provider;

    if (ctx->req == NULL && ctx->embed == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "llm bedrock: no canonical request");
        return NGX_ERROR;
    }

    if (ngx_http_llm_jw_init(&jw, r->pool, 1024 + ctx->body.len) != NGX_OK) {
        return NGX_ERROR;
    }

    /* CountTokens: {"input":{"converse":{<a Converse body>}}} */

    if (ctx->count_tokens) {
        ngx_http_llm_jw_lit(&jw, "{\"input\":{\"converse\":");
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        ngx_http_llm_bedrock_embed_body(r, ctx, &jw);

    } else if (ngx_http_llm_bedrock_body(r, ctx, &jw) != NGX_OK) {
        return NGX_ERROR;
    }

    if (jw.failed) {
        return NGX_ERROR;
    }

    if (ctx->count_tokens) {
        ngx_http_llm_jw_lit(&jw, "}}");
    }

    bcl = ngx_http_llm_jw_chain(&jw);
    if (bcl == NULL) {
        return NGX_ERROR;
    }

    body.data = bcl->buf->pos;
    body.len = bcl->buf->last - bcl->buf->pos;

    if (ngx_http_llm_bedrock_path(r, ctx, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the key: ACCESS_KEY_ID:SECRET[:SESSION_TOKEN], or an API key */

    ngx_str_null(&auth);
    ngx_str_null(&token);
    bearer = 0;

    (void) ngx_http_llm_sigv4_date(date, ngx_time());

    colon = ngx_strlchr(pc->key.data, pc->key.data + pc->key.len, ':');

    if (pc->key.len && colon == NULL) {
        bearer = 1;
        auth = pc->key;

    } else if (pc->key.len) {
        if (ngx_http_llm_sigv4_sign_key(r->pool, &sv, &pc->key, &pc->host,
                                        &pc->region, &path, &body, date)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        auth = sv.authorization;
        token = sv.token;
    }

    len = sizeof("POST  HTTP/1.1" CRLF) - 1 + path.len
          + sizeof("Host: " CRLF) - 1 + pc->host.len
          + sizeof("Content-Type: application/json" CRLF) - 1
          + sizeof("Content-Length: " CRLF) - 1 + NGX_SIZE_T_LEN
          + sizeof("Accept: application/vnd.amazon.eventstream" CRLF) - 1
          + sizeof("Accept-Encoding: identity" CRLF) - 1
          + sizeof("X-Amz-Date: " CRLF) - 1 + 16
          + sizeof("X-Amz-Security-Token: " CRLF) - 1 + token.len
          + sizeof("Authorization: Bearer " CRLF) - 1 + auth.len
          + pc->extra_headers.len
          + sizeof(CRLF) - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    p = ngx_cpymem(p, "POST ", sizeof("POST ") - 1);
    p = ngx_cpymem(p, path.data, path.len);
    p = ngx_cpymem(p, " HTTP/1.1" CRLF "Host: ",
                   sizeof(" HTTP/1.1" CRLF "Host: ") - 1);
    p = ngx_cpymem(p, pc->host.data, pc->host.len);
    p = ngx_sprintf(p, CRLF "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF, body.len);

    if (ctx->stream) {
        p = ngx_cpymem(p,
                       "Accept: application/vnd.amazon.eventstream" CRLF,
                       sizeof("Accept: application/vnd.amazon.eventstream"
                              CRLF) - 1);

    } else {
        p = ngx_cpymem(p, "Accept: application/json" CRLF,
                       sizeof("Accept: application/json" CRLF) - 1);
    }

    p = ngx_cpymem(p, "Accept-Encoding: identity" CRLF "X-Amz-Date: ",
                   sizeof("Accept-Encoding: identity" CRLF "X-Amz-Date: ")
                   - 1);
    p = ngx_cpymem(p, date, 16);
    *p++ = CR; *p++ = LF;

    if (token.len) {
        p = ngx_cpymem(p, "X-Amz-Security-Token: ",
                       sizeof("X-Amz-Security-Token: ") - 1);
        p = ngx_cpymem(p, token.data, token.len);
        *p++ = CR; *p++ = LF;
    }

    /* the key and signature are never logged */

    if (auth.len) {
        p = ngx_cpymem(p, "Authorization: ", sizeof("Authorization: ") - 1);

        if (bearer) {
            p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
        }

        p = ngx_cpymem(p, auth.data, auth.len);
        *p++ = CR; *p++ = LF;
    }

    p = ngx_cpymem(p, pc->extra_headers.data, pc->extra_headers.len);
    *p++ = CR; *p++ = LF;

    b->last = p;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = bcl;
    bcl->next = NULL;

    r->upstream->request_bufs = cl;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm bedrock request: %V, %uz body bytes",
                   &path, body.len);

    return NGX_OK;
}


/* {base}/model/{modelId}/converse[-stream], the id as one segment */

static ngx_int_t
ngx_http_llm_bedrock_path(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *path)
{
    u_char                        *p;
    size_t                         len;
    ngx_http_llm_provider_conf_t  *pc;

    pc = ctx->provider;

    len = pc->base.len + sizeof("/model/") - 1
          + 3 * ctx->upstream_model.len
          + sizeof("/converse-stream") - 1;

    path->data = ngx_pnalloc(r->pool, len);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(path->data, pc->base.data, pc->base.len);
    p = ngx_cpymem(p, "/model/", sizeof("/model/") - 1);

    /* ":" is encoded too (recorded: us.amazon.nova-micro-v1%3A0) */

    p = (u_char *) ngx_escape_uri(p, ctx->upstream_model.data,
                                  ctx->upstream_model.len,
                                  NGX_ESCAPE_URI_COMPONENT);

    if (ctx->count_tokens) {
        p = ngx_cpymem(p, "/count-tokens", sizeof("/count-tokens") - 1);

    } else if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        p = ngx_cpymem(p, "/invoke", sizeof("/invoke") - 1);

    } else if (ctx->stream) {
        p = ngx_cpymem(p, "/converse-stream",
                       sizeof("/converse-stream") - 1);

    } else {
        p = ngx_cpymem(p, "/converse", sizeof("/converse") - 1);
    }

    path->len = p - path->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_bedrock_body(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_jw_t *jw)
{
    ngx_str_t                 *stop;
    ngx_int_t                  max_tokens;
    ngx_uint_t                 i, j, k, n, role, open, first;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_tool_t       *tool;
    ngx_http_llm_message_t    *msg;
    ngx_http_llm_request_t    *req;
    ngx_http_llm_tool_call_t  *tc;

    req = ctx->req;
    msg = req->messages.elts;

    /* messages: user and assistant turns, tool results in user turns */

    ngx_http_llm_jw_lit(jw, "{\"messages\":[");

    open = 0;
    role = 0;
    first = 1;
    n = 0;

    for (i = 0; i < req->messages.nelts; i++) {

        if (msg[i].role == NGX_HTTP_LLM_ROLE_SYSTEM) {
            continue;
        }

        k = (msg[i].role == NGX_HTTP_LLM_ROLE_ASSISTANT)
            ? NGX_HTTP_LLM_ROLE_ASSISTANT : NGX_HTTP_LLM_ROLE_USER;

        if (!open || k != role) {
            if (open) {
                ngx_http_llm_jw_lit(jw, "]}");
            }

            if (!first) {
                ngx_http_llm_jw_lit(jw, ",");
            }

            first = 0;
            open = 1;
            role = k;
            n = 0;

            if (k == NGX_HTTP_LLM_ROLE_ASSISTANT) {
                ngx_http_llm_jw_lit(jw,
                                 "{\"role\":\"assistant\",\"content\":[");

            } else {
                ngx_http_llm_jw_lit(jw, "{\"role\":\"user\",\"content\":[");
            }
        }

        part = msg[i].parts.elts;

        if (msg[i].role == NGX_HTTP_LLM_ROLE_TOOL) {
            if (n++) {
                ngx_http_llm_jw_lit(jw, ",");
            }

            ngx_http_llm_jw_lit(jw, "{\"toolResult\":{\"toolUseId\":");
            ngx_http_llm_jw_string(jw, &msg[i].tool_call_id);
            ngx_http_llm_jw_lit(jw, ",\"content\":[");

            k = 0;

            for (j = 0; j < msg[i].parts.nelts; j++) {
                if (part[j].type == NGX_HTTP_LLM_PART_TEXT) {
                    if (k++) {
                        ngx_http_llm_jw_lit(jw, ",");
                    }

                    ngx_http_llm_jw_lit(jw, "{\"text\":");
                    ngx_http_llm_jw_string(jw, &part[j].text);
                    ngx_http_llm_jw_lit(jw, "}");
                }
            }

            if (k == 0) {
                ngx_http_llm_jw_lit(jw, "{\"text\":\"\"}");
            }

            ngx_http_llm_jw_lit(jw, "]");

            if (msg[i].is_error) {
                ngx_http_llm_jw_lit(jw, ",\"status\":\"error\"");
            }

            ngx_http_llm_jw_lit(jw, "}}");
            continue;
        }

        for (j = 0; j < msg[i].parts.nelts; j++) {
            ngx_http_llm_bedrock_part(r, jw, &part[j], &n);
        }

        tc = msg[i].tool_calls.elts;

        for (j = 0; j < msg[i].tool_calls.nelts; j++) {
            if (n++) {
                ngx_http_llm_jw_lit(jw, ",");
            }

            ngx_http_llm_jw_lit(jw, "{\"toolUse\":{\"toolUseId\":");
            ngx_http_llm_jw_string(jw, &tc[j].id);
            ngx_http_llm_jw_lit(jw, ",\"name\":");
            ngx_http_llm_jw_string(jw, &tc[j].name);
            ngx_http_llm_jw_lit(jw, ",\"input\":");
            ngx_http_llm_bedrock_json(r, jw, &tc[j].arguments);
            ngx_http_llm_jw_lit(jw, "}}");
        }
    }

    if (open) {
        ngx_http_llm_jw_lit(jw, "]}");
    }

    ngx_http_llm_jw_lit(jw, "]");

    /* system */

    n = 0;

    for (i = 0; i < req->messages.nelts; i++) {
        if (msg[i].role != NGX_HTTP_LLM_ROLE_SYSTEM) {
            continue;
        }

        part = msg[i].parts.elts;

        for (j = 0; j < msg[i].parts.nelts; j++) {
            if (part[j].type != NGX_HTTP_LLM_PART_TEXT) {
                continue;
            }

            if (n++) {
                ngx_http_llm_jw_lit(jw, ",");

            } else {
                ngx_http_llm_jw_lit(jw, ",\"system\":[");
            }

            ngx_http_llm_jw_lit(jw, "{\"text\":");
            ngx_http_llm_jw_string(jw, &part[j].text);
            ngx_http_llm_jw_lit(jw, "}");
        }
    }

    if (n) {
        ngx_http_llm_jw_lit(jw, "]");
    }

    /* inferenceConfig (not counted: CountTokens takes none) */

    if (ctx->count_tokens) {
        goto tools;
    }

    ngx_http_llm_jw_lit(jw, ",\"inferenceConfig\":{");

    n = 0;
    max_tokens = req->max_tokens >= 0 ? req->max_tokens
                                      : ctx->provider->max_tokens;

    if (max_tokens > 0) {
        ngx_http_llm_jw_lit(jw, "\"maxTokens\":");
        ngx_http_llm_jw_int(jw, max_tokens);
        n++;
    }

    if (req->temperature.len) {
        ngx_http_llm_bedrock_comma(jw, &n);
        ngx_http_llm_jw_lit(jw, "\"temperature\":");
        ngx_http_llm_jw_raw(jw, req->temperature.data, req->temperature.len);
    }

    if (req->top_p.len) {
        ngx_http_llm_bedrock_comma(jw, &n);
        ngx_http_llm_jw_lit(jw, "\"topP\":");
        ngx_http_llm_jw_raw(jw, req->top_p.data, req->top_p.len);
    }

    if (req->stop.nelts) {
        ngx_http_llm_bedrock_comma(jw, &n);
        ngx_http_llm_jw_lit(jw, "\"stopSequences\":[");
        stop = req->stop.elts;

        for (i = 0; i < req->stop.nelts; i++) {
            if (i) {
                ngx_http_llm_jw_lit(jw, ",");
            }

            ngx_http_llm_jw_string(jw, &stop[i]);
        }

        ngx_http_llm_jw_lit(jw, "]");
    }

    ngx_http_llm_jw_lit(jw, "}");

    /*
     * response_format: Converse's own structured output, the schema as a
     * JSON string; json_object is the schema {"type":"object"}
     */

    if (req->format != NGX_HTTP_LLM_FORMAT_TEXT) {
        ngx_http_llm_jw_lit(jw, ",\"outputConfig\":{\"textFormat\":"
                                "{\"type\":\"json_schema\",\"structure\":"
                                "{\"jsonSchema\":{\"schema\":");

        if (req->format == NGX_HTTP_LLM_FORMAT_SCHEMA && req->schema.len) {
            ngx_http_llm_jw_string(jw, &req->schema);

        } else {
            ngx_http_llm_jw_lit(jw, "\"{\\\"type\\\":\\\"object\\\"}\"");
        }

        ngx_http_llm_jw_lit(jw, ",\"name\":");

        if (req->schema_name.len) {
            ngx_http_llm_jw_string(jw, &req->schema_name);

        } else {
            ngx_http_llm_jw_lit(jw, "\"response\"");
        }

        ngx_http_llm_jw_lit(jw, "}}}}");
    }

tools:

    /* toolConfig: Bedrock has no "none", the tools are left out */

    if (req->tools.nelts && req->tool_choice != NGX_HTTP_LLM_TOOL_CHOICE_NONE)
    {
        ngx_http_llm_jw_lit(jw, ",\"toolConfig\":{\"tools\":[");

        tool = req->tools.elts;

        for (i = 0; i < req->tools.nelts; i++) {
            if (i) {
                ngx_http_llm_jw_lit(jw, ",");
            }

            ngx_http_llm_jw_lit(jw, "{\"toolSpec\":{\"name\":");
            ngx_http_llm_jw_string(jw, &tool[i].name);

            if (tool[i].description.len) {
                ngx_http_llm_jw_lit(jw, ",\"description\":");
                ngx_http_llm_jw_string(jw, &tool[i].description);
            }

            ngx_http_llm_jw_lit(jw, ",\"inputSchema\":{\"json\":");

            if (tool[i].parameters.len) {
                ngx_http_llm_jw_raw(jw, tool[i].parameters.data,
                                    tool[i].parameters.len);

            } else {
                ngx_http_llm_jw_lit(jw, "{\"type\":\"object\","
                                        "\"properties\":{}}");
            }

            ngx_http_llm_jw_lit(jw, "}}}");
        }

        ngx_http_llm_jw_lit(jw, "]");

        switch (req->tool_choice) {

        case NGX_HTTP_LLM_TOOL_CHOICE_AUTO:
            ngx_http_llm_jw_lit(jw, ",\"toolChoice\":{\"auto\":{}}");
            break;

        case NGX_HTTP_LLM_TOOL_CHOICE_ANY:
            ngx_http_llm_jw_lit(jw, ",\"toolChoice\":{\"any\":{}}");
            break;

        case NGX_HTTP_LLM_TOOL_CHOICE_NAMED:
            ngx_http_llm_jw_lit(jw, ",\"toolChoice\":{\"tool\":{\"name\":");
            ngx_http_llm_jw_string(jw, &req->tool_choice_name);
            ngx_http_llm_jw_lit(jw, "}}");
            break;
        }

        ngx_http_llm_jw_lit(jw, "}");
    }

    if (req->top_k.len) {
        ngx_http_llm_jw_lit(jw,
                            ",\"additionalModelRequestFields\":{\"top_k\":");
        ngx_http_llm_jw_raw(jw, req->top_k.data, req->top_k.len);
        ngx_http_llm_jw_lit(jw, "}");
    }

    ngx_http_llm_jw_lit(jw, "}");

    return jw->failed ? NGX_ERROR : NGX_OK;
}


static void
ngx_http_llm_bedrock_part(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_http_llm_part_t *part, ngx_uint_t *n)
{
    u_char     *p, *last;
    ngx_str_t   media, data, format;

    switch (part->type) {

    case NGX_HTTP_LLM_PART_TEXT:

        if (part->text.len == 0) {
            return;
        }

        ngx_http_llm_bedrock_comma(jw, n);
        ngx_http_llm_jw_lit(jw, "{\"text\":");
        ngx_http_llm_jw_string(jw, &part->text);
        ngx_http_llm_jw_lit(jw, "}");
        return;

    case NGX_HTTP_LLM_PART_IMAGE:

        media = part->media_type;
        data = part->data;

        if (data.len == 0) {
            /* "data:image/png;base64,...": no URL sources on Bedrock */

            p = part->url.data;
            last = p + part->url.len;

            if (part->url.len < 5 || ngx_memcmp(p, "data:", 5) != 0) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "llm bedrock: an image by URL is not "
                              "supported, left out");
                return;
            }

            media.data = p + 5;
            p = ngx_strlchr(media.data, last, ',');

            if (p == NULL) {
                return;
            }

            media.len = p - media.data;
            data.data = p + 1;
            data.len = last - data.data;

            p = ngx_strlchr(media.data, media.data + media.len, ';');

            if (p) {
                media.len = p - media.data;
            }
        }

        if (media.len > 6 && ngx_memcmp(media.data, "image/", 6) == 0) {
            format.data = media.data + 6;
            format.len = media.len - 6;

        } else {
            ngx_str_set(&format, "png");
        }

        ngx_http_llm_bedrock_comma(jw, n);
        ngx_http_llm_jw_lit(jw, "{\"image\":{\"format\":");
        ngx_http_llm_jw_string(jw, &format);
        ngx_http_llm_jw_lit(jw, ",\"source\":{\"bytes\":");
        ngx_http_llm_jw_string(jw, &data);
        ngx_http_llm_jw_lit(jw, "}}}");
        return;

    case NGX_HTTP_LLM_PART_THINKING:

        ngx_http_llm_bedrock_comma(jw, n);
        ngx_http_llm_jw_lit(jw, "{\"reasoningContent\":{\"reasoningText\":"
                                "{\"text\":");
        ngx_http_llm_jw_string(jw, &part->text);

        if (part->signature.len) {
            ngx_http_llm_jw_lit(jw, ",\"signature\":");
            ngx_http_llm_jw_string(jw, &part->signature);
        }

        ngx_http_llm_jw_lit(jw, "}}}");
        return;

    case NGX_HTTP_LLM_PART_FILE:

        /* ngx_http_llm_bedrock_check() refused what cannot be sent */

        ngx_http_llm_bedrock_comma(jw, n);
        ngx_http_llm_bedrock_document(r, jw, part);
        return;

    case NGX_HTTP_LLM_PART_REDACTED:

        ngx_http_llm_bedrock_comma(jw, n);
        ngx_http_llm_jw_lit(jw, "{\"reasoningContent\":{\"redactedContent\":");
        ngx_http_llm_jw_string(jw, &part->data);
        ngx_http_llm_jw_lit(jw, "}}");
        return;
    }
}


/* a comma before every member or element but the first */

static void
ngx_http_llm_bedrock_comma(ngx_http_llm_jw_t *jw, ngx_uint_t *n)
{
    if ((*n)++) {
        ngx_http_llm_jw_lit(jw, ",");
    }
}


/* a tool call's arguments as the "input" object; "{}" when not one */

static void
ngx_http_llm_bedrock_json(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_str_t *s)
{
    ngx_int_t            rc;
    ngx_http_llm_json_t  js;

    if (s->len == 0) {
        ngx_http_llm_jw_lit(jw, "{}");
        return;
    }

    rc = ngx_http_llm_json_parse(r->pool, &js, s->data, s->len,
                                 NGX_HTTP_LLM_BEDROCK_JSON_TOKENS);

    if (rc == NGX_OK
        && ngx_http_llm_json_type(&js, 0) == NGX_HTTP_LLM_JSON_OBJECT)
    {
        ngx_pfree(r->pool, js.toks);
        ngx_http_llm_jw_raw(jw, s->data, s->len);
        return;
    }

    ngx_http_llm_jw_lit(jw, "{}");
}


/* Converse answers ------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_bedrock_response(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_chain_t **out)
{
    u_char                    *p;
    size_t                     tlen, rlen;
    ngx_int_t                  rc, m, c, b, i, v, rd, rc2;
    ngx_str_t                  s, reason, *str;
    ngx_uint_t                 k;
    ngx_array_t                texts, reasons;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_json_t        js;
    ngx_http_llm_response_t    resp;
    ngx_http_llm_tool_call_t  *tc;

    if (ctx->count_tokens) {
        return ngx_http_llm_count_response(r, ctx, body, "inputTokens", out);
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        return ngx_http_llm_bedrock_embed_response(r, ctx, body, out);
    }

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len,
                                 NGX_HTTP_LLM_BEDROCK_JSON_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    m = ngx_http_llm_json_get(&js, 0, "output");
    m = ngx_http_llm_json_get(&js, m, "message");
    c = ngx_http_llm_json_get(&js, m, "content");

    if (c < 0 || ngx_http_llm_json_type(&js, c) != NGX_HTTP_LLM_JSON_ARRAY) {
        return NGX_DECLINED;
    }

    ngx_memzero(&resp, sizeof(ngx_http_llm_response_t));

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
    resp.model = ctx->upstream_model;

    for (i = 0; ; i++) {
        b = ngx_http_llm_json_index(&js, c, i);

        if (b < 0) {
            break;
        }

        v = ngx_http_llm_json_get(&js, b, "text");

        if (v >= 0) {
            str = ngx_array_push(&texts);
            if (str == NULL) {
                return NGX_ERROR;
            }

            if (ngx_http_llm_json_string(r->pool, &js, v, str) != NGX_OK) {
                return NGX_DECLINED;
            }

            continue;
        }

        v = ngx_http_llm_json_get(&js, b, "toolUse");

        if (v >= 0) {
            tc = ngx_array_push(&resp.tool_calls);
            if (tc == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));

            if (ngx_http_llm_bedrock_string(r->pool, &js, v, "toolUseId",
                                            &tc->id)
                == NGX_ERROR
                || ngx_http_llm_bedrock_string(r->pool, &js, v, "name",
                                               &tc->name)
                   == NGX_ERROR)
            {
                return NGX_ERROR;
            }

            v = ngx_http_llm_json_get(&js, v, "input");

            if (v >= 0) {
                ngx_http_llm_json_raw(&js, v, &tc->arguments);

            } else {
                ngx_str_set(&tc->arguments, "{}");
            }

            continue;
        }

        /*
         * reasoning: joined for OpenAI clients, and block by block (with
         * its signature, or redacted) for Anthropic ones
         */

        v = ngx_http_llm_json_get(&js, b, "reasoningContent");
        rd = ngx_http_llm_json_get(&js, v, "redactedContent");
        v = ngx_http_llm_json_get(&js, v, "reasoningText");

        if (v < 0 && rd < 0) {
            continue;
        }

        part = ngx_array_push(&resp.thinking);
        if (part == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(part, sizeof(ngx_http_llm_part_t));

        if (v < 0) {
            part->type = NGX_HTTP_LLM_PART_REDACTED;

            if (ngx_http_llm_json_type(&js, rd) != NGX_HTTP_LLM_JSON_STRING
                || ngx_http_llm_json_string(r->pool, &js, rd, &part->data)
                   != NGX_OK)
            {
                return NGX_DECLINED;
            }

            continue;
        }

        part->type = NGX_HTTP_LLM_PART_THINKING;

        str = ngx_array_push(&reasons);
        if (str == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_bedrock_string(r->pool, &js, v, "text", str)
            == NGX_ERROR
            || ngx_http_llm_bedrock_string(r->pool, &js, v, "signature",
                                           &part->signature)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        part->text = *str;
    }

    /* the text blocks joined, and the reasoning */

    for (tlen = 0, k = 0, str = texts.elts; k < texts.nelts; k++) {
        tlen += str[k].len;
    }

    for (rlen = 0, k = 0, str = reasons.elts; k < reasons.nelts; k++) {
        rlen += str[k].len;
    }

    if (texts.nelts) {
        resp.text.data = ngx_pnalloc(r->pool, tlen + 1);
        if (resp.text.data == NULL) {
            return NGX_ERROR;
        }

        for (p = resp.text.data, k = 0, str = texts.elts;
             k < texts.nelts;
             k++)
        {
            p = ngx_cpymem(p, str[k].data, str[k].len);
        }

        resp.text.len = tlen;
    }

    if (reasons.nelts) {
        resp.reasoning.data = ngx_pnalloc(r->pool, rlen + 1);
        if (resp.reasoning.data == NULL) {
            return NGX_ERROR;
        }

        for (p = resp.reasoning.data, k = 0, str = reasons.elts;
             k < reasons.nelts;
             k++)
        {
            p = ngx_cpymem(p, str[k].data, str[k].len);
        }

        resp.reasoning.len = rlen;
    }

    rc2 = ngx_http_llm_bedrock_string(r->pool, &js, 0, "stopReason", &reason);

    if (rc2 == NGX_ERROR) {
        return NGX_ERROR;
    }

    resp.finish = (rc2 == NGX_OK) ? ngx_http_llm_bedrock_finish(&reason)
                                  : NGX_HTTP_LLM_FINISH_STOP;

    if (resp.tool_calls.nelts && resp.finish == NGX_HTTP_LLM_FINISH_STOP) {
        resp.finish = NGX_HTTP_LLM_FINISH_TOOL_CALLS;
    }

    ngx_http_llm_bedrock_usage(&js, ngx_http_llm_json_get(&js, 0, "usage"),
                               &ctx->usage);
    resp.usage = ctx->usage;

    (void) s;

    return ngx_http_llm_emit_response(r, ctx, &resp, out);
}


static ngx_uint_t
ngx_http_llm_bedrock_finish(ngx_str_t *reason)
{
    if (ngx_http_llm_bedrock_is(reason, "max_tokens")
        || ngx_http_llm_bedrock_is(reason, "model_context_window_exceeded"))
    {
        return NGX_HTTP_LLM_FINISH_LENGTH;
    }

    if (ngx_http_llm_bedrock_is(reason, "tool_use")) {
        return NGX_HTTP_LLM_FINISH_TOOL_CALLS;
    }

    if (ngx_http_llm_bedrock_is(reason, "guardrail_intervened")
        || ngx_http_llm_bedrock_is(reason, "content_filtered"))
    {
        return NGX_HTTP_LLM_FINISH_FILTER;
    }

    /* end_turn, stop_sequence, anything new */

    return NGX_HTTP_LLM_FINISH_STOP;
}


static void
ngx_http_llm_bedrock_usage(ngx_http_llm_json_t *js, ngx_int_t u,
    ngx_http_llm_usage_t *usage)
{
    ngx_int_t  v, n;

    if (u < 0 || ngx_http_llm_json_type(js, u) != NGX_HTTP_LLM_JSON_OBJECT) {
        return;
    }

    v = ngx_http_llm_json_get(js, u, "inputTokens");

    if (ngx_http_llm_json_int(js, v, &usage->prompt) == NGX_OK) {
        usage->known = 1;
    }

    v = ngx_http_llm_json_get(js, u, "outputTokens");
    (void) ngx_http_llm_json_int(js, v, &usage->completion);

    /* cache reads and writes are not in inputTokens */

    v = ngx_http_llm_json_get(js, u, "cacheReadInputTokens");

    if (ngx_http_llm_json_int(js, v, &n) == NGX_OK) {
        usage->cached = n;
        usage->prompt += n;
    }

    v = ngx_http_llm_json_get(js, u, "cacheWriteInputTokens");

    if (ngx_http_llm_json_int(js, v, &n) == NGX_OK) {
        usage->prompt += n;
    }

    v = ngx_http_llm_json_get(js, u, "totalTokens");

    if (ngx_http_llm_json_int(js, v, &usage->total) != NGX_OK) {
        usage->total = usage->prompt + usage->completion;
    }
}


static ngx_int_t
ngx_http_llm_bedrock_string(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t obj, const char *key, ngx_str_t *s)
{
    ngx_int_t  v;

    ngx_str_null(s);

    v = ngx_http_llm_json_get(js, obj, key);

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING) {
        return NGX_DECLINED;
    }

    return ngx_http_llm_json_string(pool, js, v, s);
}


/* ConverseStream events -------------------------------------------------- */


static ngx_int_t
ngx_http_llm_bedrock_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll)
{
    ngx_int_t                       rc, v;
    ngx_str_t                       msg, type;
    ngx_uint_t                      status;
    ngx_http_llm_es_t              *es;
    ngx_pool_cleanup_t             *cln;
    ngx_http_llm_json_t             js;
    ngx_http_llm_bedrock_stream_t  *st;

    st = ctx->in_state;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_bedrock_stream_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        st->pool = ngx_create_pool(4096, r->connection->log);
        if (st->pool == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_llm_bedrock_cleanup;
        cln->data = st->pool;

        ctx->in_state = st;
    }

    if (st->stopped || st->failed) {
        return NGX_OK;
    }

    if (data == NULL) {

        /* the upstream body ended: metadata may be missing */

        if (st->finished) {
            st->stopped = 1;

            rc = ngx_http_llm_bedrock_emit(r, ctx, NGX_HTTP_LLM_DELTA_USAGE,
                                           0, NULL, ll);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_llm_bedrock_emit(r, ctx, NGX_HTTP_LLM_DELTA_DONE,
                                             0, NULL, ll);
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" stream ended without "
                      "messageStop", &ctx->provider->name);

        ngx_str_set(&type, "api_error");
        ngx_str_set(&msg, "The model provider's stream ended before the "
                          "message was complete.");

        return ngx_http_llm_bedrock_fail(r, ctx, st, NGX_HTTP_BAD_GATEWAY,
                                         &type, &msg, ll);
    }

    es = ctx->sse;

    ngx_reset_pool(st->pool);

    if (es && es->message_type.len
        && !ngx_http_llm_bedrock_is(&es->message_type, "event"))
    {
        /* an exception frame: {"message":"..."}, or an error frame */

        ngx_str_null(&msg);

        if (es->error_message.len) {
            msg = es->error_message;

        } else if (ngx_http_llm_json_parse(st->pool, &js, data->data,
                                           data->len, 4096)
                   == NGX_OK)
        {
            v = ngx_http_llm_json_get(&js, 0, "message");

            if (v < 0) {
                v = ngx_http_llm_json_get(&js, 0, "Message");
            }

            if (v >= 0
                && ngx_http_llm_json_string(r->pool, &js, v, &msg) != NGX_OK)
            {
                ngx_str_null(&msg);
            }
        }

        if (msg.len == 0) {
            ngx_str_set(&msg, "The model provider failed.");
        }

        type = es->exception_type.len ? es->exception_type : es->error_code;

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" sent a \"%V\" exception: \"%V\"",
                      &ctx->provider->name, &type, &msg);

        if (ngx_strlcasestrn(type.data, type.data + type.len,
                             (u_char *) "throttling", 10 - 1))
        {
            status = NGX_HTTP_TOO_MANY_REQUESTS;
            ngx_str_set(&type, "rate_limit_error");

        } else if (ngx_strlcasestrn(type.data, type.data + type.len,
                                    (u_char *) "validation", 10 - 1))
        {
            status = NGX_HTTP_BAD_REQUEST;
            ngx_str_set(&type, "invalid_request_error");

        } else if (ngx_strlcasestrn(type.data, type.data + type.len,
                                    (u_char *) "unavailable", 11 - 1))
        {
            status = NGX_HTTP_SERVICE_UNAVAILABLE;
            ngx_str_set(&type, "overloaded_error");

        } else {
            status = NGX_HTTP_BAD_GATEWAY;
            ngx_str_set(&type, "api_error");
        }

        return ngx_http_llm_bedrock_fail(r, ctx, st, status, &type, &msg, ll);
    }

    if (data->len == 0 || name == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_llm_json_parse(st->pool, &js, data->data, data->len,
                                 NGX_HTTP_LLM_BEDROCK_JSON_TOKENS);

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

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm bedrock event \"%V\"", name);

    rc = ngx_http_llm_bedrock_event(r, ctx, st, name, &js, ll);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" sent an invalid \"%V\" event",
                      &ctx->provider->name, name);

        ngx_str_set(&type, "api_error");
        ngx_str_set(&msg, "The model provider sent an invalid event.");

        return ngx_http_llm_bedrock_fail(r, ctx, st, NGX_HTTP_BAD_GATEWAY,
                                         &type, &msg, ll);
    }

    return rc;
}


static ngx_int_t
ngx_http_llm_bedrock_event(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_bedrock_stream_t *st, ngx_str_t *name,
    ngx_http_llm_json_t *js, ngx_chain_t ***ll)
{
    ngx_int_t              rc, b, d, v, w, index;
    ngx_str_t              s, reason;
    ngx_http_llm_delta_t   delta;

    if (!st->started) {
        st->started = 1;

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_START;
        delta.model = ctx->upstream_model;

        rc = ngx_http_llm_emit_delta(r, ctx, &delta, ll);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_bedrock_is(name, "messageStart")
        || ngx_http_llm_bedrock_is(name, "contentBlockStop"))
    {
        return NGX_OK;
    }

    b = ngx_http_llm_json_get(js, 0, "contentBlockIndex");

    if (b < 0 || ngx_http_llm_json_int(js, b, &index) != NGX_OK) {
        index = -1;
    }

    if (ngx_http_llm_bedrock_is(name, "contentBlockStart")) {

        v = ngx_http_llm_json_get(js, 0, "start");
        v = ngx_http_llm_json_get(js, v, "toolUse");

        if (v < 0) {
            return NGX_OK;
        }

        if (index < 0 || index >= NGX_HTTP_LLM_BEDROCK_BLOCKS) {
            return NGX_DECLINED;
        }

        st->tools[index] = st->ntools + 1;

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_TOOL_START;
        delta.index = st->ntools++;

        if (ngx_http_llm_bedrock_string(r->pool, js, v, "toolUseId",
                                        &delta.id)
            == NGX_ERROR
            || ngx_http_llm_bedrock_string(r->pool, js, v, "name",
                                           &delta.name)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
    }

    if (ngx_http_llm_bedrock_is(name, "contentBlockDelta")) {

        d = ngx_http_llm_json_get(js, 0, "delta");

        if (d < 0) {
            return NGX_DECLINED;
        }

        rc = ngx_http_llm_bedrock_string(st->pool, js, d, "text", &s);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            if (s.len == 0) {
                return NGX_OK;
            }

            return ngx_http_llm_bedrock_emit(r, ctx, NGX_HTTP_LLM_DELTA_TEXT,
                                             0, &s, ll);
        }

        v = ngx_http_llm_json_get(js, d, "toolUse");

        if (v >= 0) {
            if (index < 0 || index >= NGX_HTTP_LLM_BEDROCK_BLOCKS
                || st->tools[index] == 0)
            {
                return NGX_DECLINED;
            }

            rc = ngx_http_llm_bedrock_string(st->pool, js, v, "input", &s);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK || s.len == 0) {
                return NGX_OK;
            }

            return ngx_http_llm_bedrock_emit(r, ctx,
                                             NGX_HTTP_LLM_DELTA_TOOL_ARGS,
                                             st->tools[index] - 1, &s, ll);
        }

        v = ngx_http_llm_json_get(js, d, "reasoningContent");

        if (v >= 0) {
            rc = ngx_http_llm_bedrock_string(st->pool, js, v, "text", &s);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_OK) {
                return s.len ? ngx_http_llm_bedrock_emit(r, ctx,
                                              NGX_HTTP_LLM_DELTA_REASONING,
                                              0, &s, ll)
                             : NGX_OK;
            }

            w = ngx_http_llm_json_get(js, v, "signature");

            if (w >= 0) {
                if (ngx_http_llm_json_string(st->pool, js, w, &s) != NGX_OK) {
                    return NGX_DECLINED;
                }

                return ngx_http_llm_bedrock_emit(r, ctx,
                                                 NGX_HTTP_LLM_DELTA_SIGNATURE,
                                                 0, &s, ll);
            }

            /* redacted reasoning (base64): Anthropic's redacted_thinking */

            rc = ngx_http_llm_bedrock_string(st->pool, js, v,
                                             "redactedContent", &s);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_OK && s.len) {
                return ngx_http_llm_bedrock_emit(r, ctx,
                                                 NGX_HTTP_LLM_DELTA_REDACTED,
                                                 0, &s, ll);
            }
        }

        return NGX_OK;
    }

    if (ngx_http_llm_bedrock_is(name, "messageStop")) {

        if (st->finished) {
            return NGX_OK;
        }

        rc = ngx_http_llm_bedrock_string(st->pool, js, 0, "stopReason",
                                         &reason);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        st->finished = 1;
        st->finish = (rc == NGX_OK) ? ngx_http_llm_bedrock_finish(&reason)
                                    : NGX_HTTP_LLM_FINISH_STOP;

        if (st->ntools && st->finish == NGX_HTTP_LLM_FINISH_STOP) {
            st->finish = NGX_HTTP_LLM_FINISH_TOOL_CALLS;
        }

        return ngx_http_llm_bedrock_emit(r, ctx, NGX_HTTP_LLM_DELTA_FINISH,
                                         st->finish, NULL, ll);
    }

    if (ngx_http_llm_bedrock_is(name, "metadata")) {

        ngx_http_llm_bedrock_usage(js, ngx_http_llm_json_get(js, 0, "usage"),
                                   &ctx->usage);

        if (!st->finished) {
            st->finished = 1;

            rc = ngx_http_llm_bedrock_emit(r, ctx, NGX_HTTP_LLM_DELTA_FINISH,
                                           NGX_HTTP_LLM_FINISH_STOP, NULL,
                                           ll);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        st->stopped = 1;

        rc = ngx_http_llm_bedrock_emit(r, ctx, NGX_HTTP_LLM_DELTA_USAGE, 0,
                                       NULL, ll);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_llm_bedrock_emit(r, ctx, NGX_HTTP_LLM_DELTA_DONE, 0,
                                         NULL, ll);
    }

    /* an event type of a newer API: ignored */

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_bedrock_emit(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
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


static ngx_int_t
ngx_http_llm_bedrock_fail(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_bedrock_stream_t *st, ngx_uint_t status, ngx_str_t *type,
    ngx_str_t *message, ngx_chain_t ***ll)
{
    ngx_http_llm_delta_t  delta;

    st->failed = 1;

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_ERROR;
    delta.status = status;
    delta.error_type = *type;
    delta.error_message = *message;

    return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
}


static void
ngx_http_llm_bedrock_cleanup(void *data)
{
    ngx_pool_t  *pool = data;

    ngx_destroy_pool(pool);
}


/* errors: {"message":"..."}, the exception in x-amzn-ErrorType ---------- */


static ngx_int_t
ngx_http_llm_bedrock_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_str_t *message, ngx_str_t *type, ngx_str_t *code)
{
    u_char               *p;
    ngx_int_t             rc, v;
    ngx_uint_t            i;
    ngx_list_part_t      *part;
    ngx_table_elt_t      *h;
    ngx_http_llm_json_t   js;

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

    v = ngx_http_llm_json_get(&js, 0, "message");

    if (v < 0) {
        v = ngx_http_llm_json_get(&js, 0, "Message");
    }

    if (v < 0 || ngx_http_llm_json_type(&js, v) != NGX_HTTP_LLM_JSON_STRING
        || ngx_http_llm_json_string(r->pool, &js, v, message) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* "x-amzn-ErrorType: ValidationException:http://..." */

    if (r->upstream == NULL) {
        return NGX_OK;
    }

    part = &r->upstream->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("x-amzn-ErrorType") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "x-amzn-ErrorType",
                               h[i].key.len)
               == 0)
        {
            code->data = h[i].value.data;
            p = ngx_strlchr(h[i].value.data,
                            h[i].value.data + h[i].value.len, ':');
            code->len = (p ? p : h[i].value.data + h[i].value.len)
                        - h[i].value.data;
            break;
        }
    }

    return NGX_OK;
}


/* what Converse and InvokeModel cannot take: a 400 before sending ------- */


static ngx_int_t
ngx_http_llm_bedrock_check(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_str_t               *model, format;
    ngx_uint_t               i, j, family, v;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_embed_t    *em;
    ngx_http_llm_message_t  *msg;

    model = &ctx->upstream_model;

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        em = ctx->embed;

        if (em == NULL) {
            return NGX_ERROR;
        }

        family = ngx_http_llm_bedrock_family(model);

        if (family == 0) {
            return ngx_http_llm_bedrock_bad(r, ctx,
                       "The model \"%V\" is not a Bedrock embeddings model "
                       "this gateway translates to: amazon.titan-embed-text-* "
                       "or cohere.embed-*.", model);
        }

        if (family == NGX_HTTP_LLM_BEDROCK_TITAN) {

            if (em->input.nelts > 1) {
                return ngx_http_llm_bedrock_bad(r, ctx,
                           "Amazon Titan Text Embeddings takes one input a "
                           "request: send 'input' as one string, or route "
                           "batches to a cohere.embed-* model.");
            }

            v = (ngx_strlcasestrn(model->data, model->data + model->len,
                                  (u_char *) "-v2", 3 - 1)
                 != NULL);

            if (em->dimensions > 0 && !v) {
                return ngx_http_llm_bedrock_bad(r, ctx,
                           "'dimensions' is not supported by \"%V\".", model);
            }

            if (em->dimensions > 0 && em->dimensions != 256
                && em->dimensions != 512 && em->dimensions != 1024)
            {
                return ngx_http_llm_bedrock_bad(r, ctx,
                           "'dimensions' must be 256, 512 or 1024 for Amazon "
                           "Titan Text Embeddings V2.");
            }

            return NGX_OK;
        }

        if (em->input.nelts > NGX_HTTP_LLM_BEDROCK_COHERE_MAX) {
            return ngx_http_llm_bedrock_bad(r, ctx,
                       "Cohere Embed on Bedrock takes at most 96 inputs a "
                       "request.");
        }

        v = (ngx_strlcasestrn(model->data, model->data + model->len,
                              (u_char *) "embed-v4", 8 - 1)
             != NULL);

        if (em->dimensions > 0 && !v) {
            return ngx_http_llm_bedrock_bad(r, ctx,
                       "'dimensions' is not supported by \"%V\" (Cohere "
                       "Embed v4 takes it).", model);
        }

        if (em->dimensions > 0 && em->dimensions != 256
            && em->dimensions != 512 && em->dimensions != 1024
            && em->dimensions != 1536)
        {
            return ngx_http_llm_bedrock_bad(r, ctx,
                       "'dimensions' must be 256, 512, 1024 or 1536 for "
                       "Cohere Embed v4.");
        }

        return NGX_OK;
    }

    if (ctx->req == NULL) {
        return NGX_OK;
    }

    /* documents: base64 of a type Converse reads, never by URL */

    msg = ctx->req->messages.elts;

    for (i = 0; i < ctx->req->messages.nelts; i++) {
        part = msg[i].parts.elts;

        for (j = 0; j < msg[i].parts.nelts; j++) {
            if (part[j].type != NGX_HTTP_LLM_PART_FILE) {
                continue;
            }

            if (part[j].data.len == 0) {
                return ngx_http_llm_bedrock_bad(r, ctx,
                           "A document for this model must be sent as "
                           "base64 data (file_data): Bedrock does not fetch "
                           "URLs.");
            }

            if (ngx_http_llm_bedrock_doc_format(&part[j].media_type, &format)
                != NGX_OK)
            {
                return ngx_http_llm_bedrock_bad(r, ctx,
                           "A document of type \"%V\" cannot be sent to "
                           "this model: Bedrock takes pdf, csv, doc, docx, "
                           "xls, xlsx, html, txt and md.",
                           &part[j].media_type);
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_bedrock_bad(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    const char *fmt, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    rc = ngx_http_llm_vbad(r->pool, &ctx->error, fmt, args);
    va_end(args);

    return rc;
}


/* "amazon.titan-embed-text-v2:0", "us.cohere.embed-v4:0" */

static ngx_uint_t
ngx_http_llm_bedrock_family(ngx_str_t *model)
{
    u_char  *p, *last;

    p = model->data;
    last = p + model->len;

    if (ngx_strlcasestrn(p, last, (u_char *) "titan-embed-text", 16 - 1)) {
        return NGX_HTTP_LLM_BEDROCK_TITAN;
    }

    if (ngx_strlcasestrn(p, last, (u_char *) "cohere.embed", 12 - 1)) {
        return NGX_HTTP_LLM_BEDROCK_COHERE;
    }

    return 0;
}


/* a media type as a Converse DocumentBlock format */

static ngx_int_t
ngx_http_llm_bedrock_doc_format(ngx_str_t *media, ngx_str_t *format)
{
    ngx_uint_t  i;

    static ngx_str_t  formats[][2] = {
        { ngx_string("application/pdf"), ngx_string("pdf") },
        { ngx_string("text/csv"), ngx_string("csv") },
        { ngx_string("application/msword"), ngx_string("doc") },
        { ngx_string("application/vnd.openxmlformats-officedocument"
                     ".wordprocessingml.document"), ngx_string("docx") },
        { ngx_string("application/vnd.ms-excel"), ngx_string("xls") },
        { ngx_string("application/vnd.openxmlformats-officedocument"
                     ".spreadsheetml.sheet"), ngx_string("xlsx") },
        { ngx_string("text/html"), ngx_string("html") },
        { ngx_string("text/plain"), ngx_string("txt") },
        { ngx_string("text/markdown"), ngx_string("md") },
    };

    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (media->len == formats[i][0].len
            && ngx_strncasecmp(media->data, formats[i][0].data, media->len)
               == 0)
        {
            *format = formats[i][1];
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * {"document":{"format","name","source":{"bytes"}}}: a name may hold
 * letters, digits, single spaces, hyphens, parentheses and brackets only:
 * the extension is dropped, other bytes become hyphens; "document" when
 * nothing is left
 */

static void
ngx_http_llm_bedrock_document(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_http_llm_part_t *part)
{
    u_char     *p, *dot, c;
    ngx_str_t   format, name;
    ngx_uint_t  i;

    if (ngx_http_llm_bedrock_doc_format(&part->media_type, &format)
        != NGX_OK)
    {
        ngx_str_set(&format, "txt");
    }

    name.len = part->name.len;
    dot = ngx_strlchr(part->name.data, part->name.data + part->name.len, '.');

    while (dot) {
        name.len = dot - part->name.data;
        dot = ngx_strlchr(dot + 1, part->name.data + part->name.len, '.');
    }

    name.data = ngx_pnalloc(r->pool, name.len + 1);
    if (name.data == NULL) {
        jw->failed = 1;
        return;
    }

    p = name.data;

    for (i = 0; i < name.len; i++) {
        c = part->name.data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == ' ' || c == '-'
              || c == '(' || c == ')' || c == '[' || c == ']'))
        {
            c = '-';
        }

        if (c == ' ' && (p == name.data || p[-1] == ' ')) {
            continue;
        }

        *p++ = c;
    }

    while (p > name.data && p[-1] == ' ') {
        p--;
    }

    name.len = p - name.data;

    if (name.len == 0) {
        ngx_str_set(&name, "document");
    }

    ngx_http_llm_jw_lit(jw, "{\"document\":{\"format\":");
    ngx_http_llm_jw_string(jw, &format);
    ngx_http_llm_jw_lit(jw, ",\"name\":");
    ngx_http_llm_jw_string(jw, &name);
    ngx_http_llm_jw_lit(jw, ",\"source\":{\"bytes\":");
    ngx_http_llm_jw_string(jw, &part->data);
    ngx_http_llm_jw_lit(jw, "}}}");
}


/* embeddings: InvokeModel of Titan Text Embeddings or Cohere Embed ----- */


static void
ngx_http_llm_bedrock_embed_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_jw_t *jw)
{
    ngx_str_t             *s;
    ngx_uint_t             i;
    ngx_http_llm_embed_t  *em;

    em = ctx->embed;
    s = em->input.elts;

    if (ngx_http_llm_bedrock_family(&ctx->upstream_model)
        == NGX_HTTP_LLM_BEDROCK_TITAN)
    {
        /* normalize is true by default */

        ngx_http_llm_jw_lit(jw, "{\"inputText\":");
        ngx_http_llm_jw_string(jw, &s[0]);

        if (em->dimensions > 0) {
            ngx_http_llm_jw_lit(jw, ",\"dimensions\":");
            ngx_http_llm_jw_int(jw, em->dimensions);
        }

        ngx_http_llm_jw_lit(jw, "}");
        return;
    }

    ngx_http_llm_jw_lit(jw, "{\"texts\":[");

    for (i = 0; i < em->input.nelts; i++) {
        if (i) {
            ngx_http_llm_jw_lit(jw, ",");
        }

        ngx_http_llm_jw_string(jw, &s[i]);
    }

    /* OpenAI's embeddings are for search: documents, in Cohere's words */

    ngx_http_llm_jw_lit(jw, "],\"input_type\":\"search_document\"");

    if (em->dimensions > 0) {
        ngx_http_llm_jw_lit(jw, ",\"output_dimension\":");
        ngx_http_llm_jw_int(jw, em->dimensions);
    }

    ngx_http_llm_jw_lit(jw, "}");
}


/*
 * Titan: {"embedding":[...],"inputTextTokenCount":N}; Cohere:
 * {"embeddings":[[...],...]} or, by type, {"embeddings":{"float":[...]}},
 * without a token count
 */

static ngx_int_t
ngx_http_llm_bedrock_embed_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out)
{
    ngx_int_t            rc, e, v, tokens;
    ngx_http_llm_json_t  js;

    rc = ngx_http_llm_embed_json(r, body, &js);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_llm_bedrock_family(&ctx->upstream_model)
        == NGX_HTTP_LLM_BEDROCK_TITAN)
    {
        e = ngx_http_llm_json_get(&js, 0, "embedding");
        v = ngx_http_llm_json_get(&js, 0, "inputTextTokenCount");

        if (v < 0 || ngx_http_llm_json_int(&js, v, &tokens) != NGX_OK) {
            tokens = -1;
        }

        return ngx_http_llm_embed_write(r, ctx, &js, &e, 1, tokens, out);
    }

    e = ngx_http_llm_json_get(&js, 0, "embeddings");

    if (e >= 0 && ngx_http_llm_json_type(&js, e) == NGX_HTTP_LLM_JSON_OBJECT) {
        e = ngx_http_llm_json_get(&js, e, "float");
    }

    return ngx_http_llm_embed_array(r, ctx, &js, e, NULL, out);
}
