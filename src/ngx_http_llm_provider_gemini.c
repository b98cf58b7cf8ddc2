
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
#include "ngx_http_llm_embeddings.h"


/*
 * The Google Gemini API adapter (generativelanguage v1beta): the
 * canonical request as a GenerateContentRequest, GenerateContentResponse
 * bodies and "alt=sse" streams back into canonical responses and deltas,
 * google.rpc.Status errors into an error type and code.
 *
 * Gemini has no tool call ids: they are made up here ("call_" and 24
 * letters and digits), and a tool result finds its function's name by
 * its id in the assistant's tool calls before it.  Gemini 3 wants the
 * "thoughtSignature" of a function call back with the call; as every
 * client echoes tool call ids verbatim, the signature travels in the id,
 * after "__thought__" in base64url, unless the client sends it back in
 * the tool call itself.
 */


#define NGX_HTTP_LLM_GEMINI_MAX_TOKENS  (4 * 1024 * 1024)
#define NGX_HTTP_LLM_GEMINI_ID_LEN      24

#define NGX_HTTP_LLM_GEMINI_USER        1
#define NGX_HTTP_LLM_GEMINI_MODEL       2

/* a raw JSON value of the canonical request, copied as it is */
#define ngx_http_llm_gemini_raw(jw, s)                                        \
    ngx_http_llm_jw_raw(jw, (s)->data, (s)->len)


typedef struct {
    ngx_http_llm_jw_t          *jw;
    ngx_uint_t                  role;       /* the open content, or 0 */
} ngx_http_llm_gemini_contents_t;


typedef struct {
    ngx_uint_t                  ntools;     /* function calls seen */
    unsigned                    started:1;  /* START sent */
    unsigned                    finished:1; /* FINISH sent */
    unsigned                    done:1;     /* DONE sent: the rest ignored */
} ngx_http_llm_gemini_stream_t;


typedef struct {
    ngx_str_t                   status;
    ngx_str_t                   type;
} ngx_http_llm_gemini_status_t;


typedef struct {
    ngx_str_t                   ext;
    ngx_str_t                   type;
} ngx_http_llm_gemini_mime_t;


static void ngx_http_llm_gemini_embed_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *model, ngx_http_llm_jw_t *jw);
static ngx_int_t ngx_http_llm_gemini_embed_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);
static ngx_int_t ngx_http_llm_gemini_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_gemini_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_gemini_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);
static ngx_int_t ngx_http_llm_gemini_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code);

static void ngx_http_llm_gemini_body(ngx_http_request_t *r,
    ngx_http_llm_request_t *req, ngx_http_llm_provider_conf_t *pc,
    ngx_http_llm_jw_t *jw);
static void ngx_http_llm_gemini_system(ngx_http_llm_request_t *req,
    ngx_http_llm_jw_t *jw);
static void ngx_http_llm_gemini_contents(ngx_http_request_t *r,
    ngx_http_llm_request_t *req, ngx_http_llm_jw_t *jw);
static void ngx_http_llm_gemini_part(ngx_http_llm_gemini_contents_t *cs,
    ngx_uint_t role);
static void ngx_http_llm_gemini_media(ngx_http_llm_jw_t *jw,
    ngx_http_llm_part_t *part);
static void ngx_http_llm_gemini_file_uri(ngx_http_llm_jw_t *jw,
    ngx_str_t *url, ngx_str_t *media_type);
static void ngx_http_llm_gemini_call(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_http_llm_tool_call_t *tc);
static void ngx_http_llm_gemini_result(ngx_http_request_t *r,
    ngx_http_llm_request_t *req, ngx_uint_t n, ngx_http_llm_jw_t *jw);
static void ngx_http_llm_gemini_tools(ngx_http_llm_request_t *req,
    ngx_http_llm_jw_t *jw);
static void ngx_http_llm_gemini_generation(ngx_http_llm_request_t *req,
    ngx_http_llm_provider_conf_t *pc, ngx_http_llm_jw_t *jw);
static void ngx_http_llm_gemini_field(ngx_http_llm_jw_t *jw, ngx_uint_t *n,
    const char *name);
static ngx_int_t ngx_http_llm_gemini_is_object(ngx_pool_t *pool,
    ngx_str_t *text);
static void ngx_http_llm_gemini_message_text(ngx_http_llm_message_t *msg,
    ngx_http_llm_jw_t *jw);

static ngx_int_t ngx_http_llm_gemini_parts(ngx_http_request_t *r,
    ngx_pool_t *pool, ngx_http_llm_json_t *js, ngx_int_t parts,
    ngx_http_llm_response_t *resp);
static ngx_int_t ngx_http_llm_gemini_stream_parts(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t parts, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_gemini_stream_close(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_gemini_stream_t *st,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_gemini_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t e, ngx_chain_t ***ll);
static ngx_uint_t ngx_http_llm_gemini_finish(ngx_http_llm_json_t *js,
    ngx_int_t v);
static void ngx_http_llm_gemini_usage(ngx_http_llm_json_t *js, ngx_int_t u,
    ngx_http_llm_usage_t *usage);
static ngx_int_t ngx_http_llm_gemini_args(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t v, ngx_str_t *out);
static ngx_int_t ngx_http_llm_gemini_call_id(ngx_pool_t *pool,
    ngx_str_t *signature, ngx_str_t *id);
static ngx_int_t ngx_http_llm_gemini_id_signature(ngx_pool_t *pool,
    ngx_str_t *id, ngx_str_t *signature);
static ngx_int_t ngx_http_llm_gemini_candidate(ngx_http_llm_json_t *js,
    ngx_int_t c);
static ngx_int_t ngx_http_llm_gemini_true(ngx_http_llm_json_t *js,
    ngx_int_t obj, const char *key);


const ngx_http_llm_provider_t  ngx_http_llm_provider_gemini = {
    ngx_string("gemini"),
    ngx_string("/v1beta"),
    0,
    0,                                     /* openai_format */
    1,                                     /* embeddings */
    ngx_http_llm_gemini_create_request,
    ngx_http_llm_gemini_stream_event,
    ngx_http_llm_gemini_response,
    ngx_http_llm_gemini_error,
    NULL                                   /* check */
};


/* google.rpc.Code names as OpenAI error types */

static ngx_http_llm_gemini_status_t  ngx_http_llm_gemini_statuses[] = {
    { ngx_string("INVALID_ARGUMENT"), ngx_string("invalid_request_error") },
    { ngx_string("FAILED_PRECONDITION"),
      ngx_string("invalid_request_error") },
    { ngx_string("OUT_OF_RANGE"), ngx_string("invalid_request_error") },
    { ngx_string("NOT_FOUND"), ngx_string("invalid_request_error") },
    { ngx_string("PERMISSION_DENIED"), ngx_string("permission_error") },
    { ngx_string("UNAUTHENTICATED"), ngx_string("authentication_error") },
    { ngx_string("RESOURCE_EXHAUSTED"), ngx_string("rate_limit_error") },
    { ngx_string("INTERNAL"), ngx_string("server_error") },
    { ngx_string("UNAVAILABLE"), ngx_string("server_error") },
    { ngx_string("DEADLINE_EXCEEDED"), ngx_string("server_error") },
    { ngx_null_string, ngx_null_string }
};


/* media types of URLs passed as fileData, by the path's extension */

static ngx_http_llm_gemini_mime_t  ngx_http_llm_gemini_mimes[] = {
    { ngx_string("png"), ngx_string("image/png") },
    { ngx_string("jpg"), ngx_string("image/jpeg") },
    { ngx_string("jpeg"), ngx_string("image/jpeg") },
    { ngx_string("gif"), ngx_string("image/gif") },
    { ngx_string("webp"), ngx_string("image/webp") },
    { ngx_string("heic"), ngx_string("image/heic") },
    { ngx_string("heif"), ngx_string("image/heif") },
    { ngx_string("pdf"), ngx_string("application/pdf") },
    { ngx_string("txt"), ngx_string("text/plain") },
    { ngx_string("mp3"), ngx_string("audio/mp3") },
    { ngx_string("wav"), ngx_string("audio/wav") },
    { ngx_string("flac"), ngx_string("audio/flac") },
    { ngx_string("ogg"), ngx_string("audio/ogg") },
    { ngx_string("mp4"), ngx_string("video/mp4") },
    { ngx_string("webm"), ngx_string("video/webm") },
    { ngx_string("mov"), ngx_string("video/mov") },
    { ngx_null_string, ngx_null_string }
};


static ngx_int_t
ngx_http_llm_gemini_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    u_char                        *p;
    size_t                         len;
    ngx_str_t                      model, method, name;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl, *body;
    ngx_http_llm_jw_t              jw;
    ngx_http_llm_provider_conf_t  *pc;

    pc = ctx->provider;

    if (ctx->req == NULL && ctx->embed == NULL) {
        /* the handler sends every non-OpenAI provider a canonical one */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "llm: gemini provider \"%V\" without a translated "
                      "request", &pc->name);
        return NGX_ERROR;
    }

    if (ngx_http_llm_gemini_model(r->pool, &ctx->upstream_model, &model)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the model name cannot be used in a URL of "
                      "gemini provider \"%V\"", &pc->name);

        ctx->error = "The model name is not valid for this provider.";
        return NGX_ERROR;
    }

    if (ctx->count_tokens) {
        ngx_str_set(&method, ":countTokens");

    } else if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        ngx_str_set(&method, ":batchEmbedContents");

    } else if (ctx->stream) {
        ngx_str_set(&method, ":streamGenerateContent?alt=sse");

    } else {
        ngx_str_set(&method, ":generateContent");
    }

    /* the body first: its length goes into the headers */

    if (ngx_http_llm_jw_init(&jw, r->pool, 2 * ctx->body.len + 1024)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->count_tokens) {
        /*
         * :countTokens counts a whole GenerateContentRequest (system
         * instruction and tools too, unlike bare "contents")
         */

        ngx_http_llm_jw_lit(&jw, "{\"generateContentRequest\":");
        ngx_http_llm_gemini_body(r, ctx->req, pc, &jw);

        /* the body's last "}" gives way to the model's resource name */

        if (!jw.failed) {
            jw.pos--;
        }

        name = ctx->upstream_model;

        if (name.len <= sizeof("models/") - 1
            || ngx_memcmp(name.data, "models/", sizeof("models/") - 1) != 0)
        {
            name.len = sizeof("models/") - 1 + ctx->upstream_model.len;
            name.data = ngx_pnalloc(r->pool, name.len);
            if (name.data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(ngx_cpymem(name.data, "models/", 7),
                       ctx->upstream_model.data, ctx->upstream_model.len);
        }

        ngx_http_llm_jw_lit(&jw, ",\"model\":");
        ngx_http_llm_jw_string(&jw, &name);
        ngx_http_llm_jw_lit(&jw, "}}");

    } else if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        ngx_http_llm_gemini_embed_body(r, ctx, &model, &jw);

    } else {
        ngx_http_llm_gemini_body(r, ctx->req, pc, &jw);
    }

    body = ngx_http_llm_jw_chain(&jw);
    if (body == NULL) {
        return NGX_ERROR;
    }

    body->buf->last_buf = 0;

    len = sizeof("POST ") - 1 + pc->base.len + sizeof("/models/") - 1
          + model.len + method.len
          + NGX_HTTP_LLM_COMMON_HEADERS_LEN(pc)
          + pc->extra_headers.len
          + sizeof(CRLF) - 1;

    if (pc->key.len) {
        len += sizeof("x-goog-api-key: " CRLF) - 1 + pc->key.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    p = ngx_cpymem(p, "POST ", sizeof("POST ") - 1);
    p = ngx_cpymem(p, pc->base.data, pc->base.len);
    p = ngx_cpymem(p, "/models/", sizeof("/models/") - 1);
    p = ngx_cpymem(p, model.data, model.len);
    p = ngx_cpymem(p, method.data, method.len);
    p = ngx_http_llm_common_headers(p, pc, ctx->stream,
                                    (size_t) (body->buf->last
                                              - body->buf->pos));

    /* the key goes in a header, never in the URL (access logs) */

    if (pc->key.len) {
        p = ngx_cpymem(p, "x-goog-api-key: ",
                       sizeof("x-goog-api-key: ") - 1);
        p = ngx_cpymem(p, pc->key.data, pc->key.len);
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
    cl->next = body;

    r->upstream->request_bufs = cl;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm gemini request: %V/models/%V%V, %uz body bytes",
                   &pc->base, &model, &method,
                   (size_t) (body->buf->last - body->buf->pos));

    return NGX_OK;
}


/*
 * The model goes into the path, "/models/{model}:generateContent": a name
 * with "/", "?", "#", "\", ".." or control characters is refused, as it
 * could reach another resource with the gateway's key; other bytes
 * outside [A-Za-z0-9._~-] are percent-encoded.  A "models/" prefix, as
 * Google's SDKs write resource names, is dropped.
 */

ngx_int_t
ngx_http_llm_gemini_model(ngx_pool_t *pool, ngx_str_t *model, ngx_str_t *out)
{
    u_char      *p, *d, c;
    size_t       len;
    ngx_str_t    m;

    static u_char  hex[] = "0123456789ABCDEF";

    m = *model;

    if (m.len > sizeof("models/") - 1
        && ngx_memcmp(m.data, "models/", sizeof("models/") - 1) == 0)
    {
        m.data += sizeof("models/") - 1;
        m.len -= sizeof("models/") - 1;
    }

    if (m.len == 0
        || ngx_strlcasestrn(m.data, m.data + m.len, (u_char *) "..", 2 - 1))
    {
        return NGX_DECLINED;
    }

    len = 0;

    for (p = m.data; p < m.data + m.len; p++) {
        c = *p;

        if (c < 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#'
            || c == '\\')
        {
            return NGX_DECLINED;
        }

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '.' || c == '_' || c == '~' || c == '-')
        {
            len++;

        } else {
            len += 3;
        }
    }

    if (len == m.len) {
        *out = m;
        return NGX_OK;
    }

    d = ngx_pnalloc(pool, len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;
    out->len = len;

    for (p = m.data; p < m.data + m.len; p++) {
        c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '.' || c == '_' || c == '~' || c == '-')
        {
            *d++ = c;

        } else {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 0x0f];
        }
    }

    return NGX_OK;
}


/*
 * {"systemInstruction":..., "contents":[...], "tools":[...],
 *  "toolConfig":..., "generationConfig":...}; a failed allocation is
 * remembered in jw->failed
 */

static void
ngx_http_llm_gemini_body(ngx_http_request_t *r, ngx_http_llm_request_t *req,
    ngx_http_llm_provider_conf_t *pc, ngx_http_llm_jw_t *jw)
{
    ngx_http_llm_jw_lit(jw, "{");

    ngx_http_llm_gemini_system(req, jw);

    ngx_http_llm_jw_lit(jw, "\"contents\":[");
    ngx_http_llm_gemini_contents(r, req, jw);
    ngx_http_llm_jw_lit(jw, "]");

    ngx_http_llm_gemini_tools(req, jw);
    ngx_http_llm_gemini_generation(req, pc, jw);

    ngx_http_llm_jw_lit(jw, "}");
}


/* every system message, wherever it is, as parts of systemInstruction */

static void
ngx_http_llm_gemini_system(ngx_http_llm_request_t *req, ngx_http_llm_jw_t *jw)
{
    ngx_uint_t               i, j, n;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *msg;

    msg = req->messages.elts;
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

            if (n++ == 0) {
                ngx_http_llm_jw_lit(jw, "\"systemInstruction\":{\"parts\":[");

            } else {
                ngx_http_llm_jw_lit(jw, ",");
            }

            ngx_http_llm_jw_lit(jw, "{\"text\":");
            ngx_http_llm_jw_string(jw, &part[j].text);
            ngx_http_llm_jw_lit(jw, "}");
        }
    }

    if (n) {
        ngx_http_llm_jw_lit(jw, "]},");
    }
}


/*
 * user and tool messages become "user" contents, assistant messages
 * "model" ones; adjacent contents of one role are merged, so all tool
 * results of a turn are in one content, as Gemini wants them
 */

static void
ngx_http_llm_gemini_contents(ngx_http_request_t *r,
    ngx_http_llm_request_t *req, ngx_http_llm_jw_t *jw)
{
    ngx_uint_t                       i, j, role;
    ngx_http_llm_part_t             *part;
    ngx_http_llm_message_t          *msg;
    ngx_http_llm_tool_call_t        *tc;
    ngx_http_llm_gemini_contents_t   cs;

    ngx_memzero(&cs, sizeof(ngx_http_llm_gemini_contents_t));
    cs.jw = jw;

    msg = req->messages.elts;

    for (i = 0; i < req->messages.nelts; i++) {

        switch (msg[i].role) {

        case NGX_HTTP_LLM_ROLE_SYSTEM:
            continue;

        case NGX_HTTP_LLM_ROLE_TOOL:
            ngx_http_llm_gemini_part(&cs, NGX_HTTP_LLM_GEMINI_USER);
            ngx_http_llm_gemini_result(r, req, i, jw);
            continue;

        case NGX_HTTP_LLM_ROLE_ASSISTANT:
            role = NGX_HTTP_LLM_GEMINI_MODEL;
            break;

        default: /* NGX_HTTP_LLM_ROLE_USER */
            role = NGX_HTTP_LLM_GEMINI_USER;
            break;
        }

        part = msg[i].parts.elts;

        for (j = 0; j < msg[i].parts.nelts; j++) {

            switch (part[j].type) {

            case NGX_HTTP_LLM_PART_TEXT:

                /* an empty user prompt is valid; empty model text is not */

                if (part[j].text.len == 0
                    && role == NGX_HTTP_LLM_GEMINI_MODEL)
                {
                    break;
                }

                ngx_http_llm_gemini_part(&cs, role);
                ngx_http_llm_jw_lit(jw, "{\"text\":");
                ngx_http_llm_jw_string(jw, &part[j].text);
                ngx_http_llm_jw_lit(jw, "}");
                break;

            case NGX_HTTP_LLM_PART_IMAGE:
            case NGX_HTTP_LLM_PART_FILE:
            case NGX_HTTP_LLM_PART_AUDIO:

                if (part[j].url.len == 0 && part[j].data.len == 0) {
                    break;
                }

                ngx_http_llm_gemini_part(&cs, role);
                ngx_http_llm_gemini_media(jw, &part[j]);
                break;

            default:

                /*
                 * thinking blocks and their signatures belong to the
                 * provider that made them: not sent
                 */

                break;
            }
        }

        if (role != NGX_HTTP_LLM_GEMINI_MODEL) {
            continue;
        }

        tc = msg[i].tool_calls.elts;

        for (j = 0; j < msg[i].tool_calls.nelts; j++) {
            ngx_http_llm_gemini_part(&cs, role);
            ngx_http_llm_gemini_call(r, jw, &tc[j]);
        }
    }

    if (cs.role) {
        ngx_http_llm_jw_lit(jw, "]}");
    }
}


/* the separator before a part of "role", opening a content if needed */

static void
ngx_http_llm_gemini_part(ngx_http_llm_gemini_contents_t *cs, ngx_uint_t role)
{
    if (cs->role == role) {
        ngx_http_llm_jw_lit(cs->jw, ",");
        return;
    }

    if (cs->role) {
        ngx_http_llm_jw_lit(cs->jw, "]},");
    }

    if (role == NGX_HTTP_LLM_GEMINI_MODEL) {
        ngx_http_llm_jw_lit(cs->jw, "{\"role\":\"model\",\"parts\":[");

    } else {
        ngx_http_llm_jw_lit(cs->jw, "{\"role\":\"user\",\"parts\":[");
    }

    cs->role = role;
}


/*
 * base64 data as inlineData; a "data:" URL is split into its media type
 * and data; other URLs go as fileData, Gemini fetches them
 */

static void
ngx_http_llm_gemini_media(ngx_http_llm_jw_t *jw, ngx_http_llm_part_t *part)
{
    u_char     *p, *comma, *last;
    ngx_str_t   type, data;

    if (part->data.len) {
        type = part->media_type;
        data = part->data;

    } else if (part->url.len > 5
               && ngx_strncasecmp(part->url.data, (u_char *) "data:", 5)
                  == 0)
    {
        last = part->url.data + part->url.len;
        comma = ngx_strlchr(part->url.data, last, ',');

        p = comma ? ngx_strlcasestrn(part->url.data, comma,
                                     (u_char *) ";base64", 7 - 1)
                  : NULL;

        if (p == NULL) {
            /* not base64: Gemini gets the URL and says what it thinks */
            ngx_http_llm_gemini_file_uri(jw, &part->url, &part->media_type);
            return;
        }

        type.data = part->url.data + 5;
        type.len = p - type.data;
        data.data = comma + 1;
        data.len = last - data.data;

    } else {
        ngx_http_llm_gemini_file_uri(jw, &part->url, &part->media_type);
        return;
    }

    ngx_http_llm_jw_lit(jw, "{\"inlineData\":{\"mimeType\":");

    if (type.len == 0) {
        ngx_http_llm_jw_lit(jw, "\"application/octet-stream\"");

    } else if (part->type == NGX_HTTP_LLM_PART_AUDIO
               && ngx_strlchr(type.data, type.data + type.len, '/') == NULL)
    {
        /* OpenAI input_audio "format": "wav", "mp3" */
        ngx_http_llm_jw_lit(jw, "\"audio/");
        ngx_http_llm_jw_raw(jw, type.data, type.len);
        ngx_http_llm_jw_lit(jw, "\"");

    } else {
        ngx_http_llm_jw_string(jw, &type);
    }

    ngx_http_llm_jw_lit(jw, ",\"data\":");
    ngx_http_llm_jw_string(jw, &data);
    ngx_http_llm_jw_lit(jw, "}}");
}


static void
ngx_http_llm_gemini_file_uri(ngx_http_llm_jw_t *jw, ngx_str_t *url,
    ngx_str_t *media_type)
{
    u_char                      *p, *end, *dot;
    ngx_str_t                    ext;
    ngx_http_llm_gemini_mime_t  *m;

    ngx_http_llm_jw_lit(jw, "{\"fileData\":{");

    if (media_type->len) {
        ngx_http_llm_jw_lit(jw, "\"mimeType\":");
        ngx_http_llm_jw_string(jw, media_type);
        ngx_http_llm_jw_lit(jw, ",");

    } else {

        /* the extension of the path, without query and fragment */

        end = url->data + url->len;

        for (p = url->data; p < end; p++) {
            if (*p == '?' || *p == '#') {
                end = p;
                break;
            }
        }

        dot = NULL;

        for (p = end; p > url->data; p--) {
            if (p[-1] == '.') {
                dot = p;
                break;
            }

            if (p[-1] == '/') {
                break;
            }
        }

        if (dot) {
            ext.data = dot;
            ext.len = end - dot;

            for (m = ngx_http_llm_gemini_mimes; m->ext.len; m++) {
                if (m->ext.len == ext.len
                    && ngx_strncasecmp(m->ext.data, ext.data, ext.len) == 0)
                {
                    ngx_http_llm_jw_lit(jw, "\"mimeType\":");
                    ngx_http_llm_jw_string(jw, &m->type);
                    ngx_http_llm_jw_lit(jw, ",");
                    break;
                }
            }
        }
    }

    ngx_http_llm_jw_lit(jw, "\"fileUri\":");
    ngx_http_llm_jw_string(jw, url);
    ngx_http_llm_jw_lit(jw, "}}");
}


/* an assistant tool call as a functionCall part, with its signature */

static void
ngx_http_llm_gemini_call(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_http_llm_tool_call_t *tc)
{
    u_char     *p, *last;
    ngx_int_t   rc;
    ngx_str_t   sig;

    ngx_http_llm_jw_lit(jw, "{\"functionCall\":{\"name\":");
    ngx_http_llm_jw_string(jw, &tc->name);
    ngx_http_llm_jw_lit(jw, ",\"args\":");

    /* "arguments" is the client's JSON text: "" is {}, it must be one */

    last = tc->arguments.data + tc->arguments.len;

    for (p = tc->arguments.data; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != CR && *p != LF) {
            break;
        }
    }

    if (p == last) {
        ngx_http_llm_jw_lit(jw, "{}");

    } else {
        rc = ngx_http_llm_gemini_is_object(r->pool, &tc->arguments);

        if (rc == NGX_ERROR) {
            jw->failed = 1;
            return;
        }

        if (rc == NGX_OK) {
            ngx_http_llm_jw_raw(jw, tc->arguments.data, tc->arguments.len);

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm: arguments of tool call \"%V\" are not "
                          "a JSON object, sent as {}", &tc->name);
            ngx_http_llm_jw_lit(jw, "{}");
        }
    }

    ngx_http_llm_jw_lit(jw, "}");

    if (tc->signature.len) {
        sig = tc->signature;
        rc = NGX_OK;

    } else {
        rc = ngx_http_llm_gemini_id_signature(r->pool, &tc->id, &sig);

        if (rc == NGX_ERROR) {
            jw->failed = 1;
            return;
        }
    }

    if (rc == NGX_OK) {
        ngx_http_llm_jw_lit(jw, ",\"thoughtSignature\":");
        ngx_http_llm_jw_string(jw, &sig);
    }

    ngx_http_llm_jw_lit(jw, "}");
}


/*
 * A tool result as a functionResponse part.  Gemini wants the function's
 * name: it is found by the id in the assistant's tool calls before it.
 * "response" must be an object: a result that is a JSON object is sent
 * as it is, other text as {"content": text}, a failure as {"error": text}.
 */

static void
ngx_http_llm_gemini_result(ngx_http_request_t *r,
    ngx_http_llm_request_t *req, ngx_uint_t n, ngx_http_llm_jw_t *jw)
{
    ngx_int_t                  rc;
    ngx_str_t                 *name, text;
    ngx_uint_t                 i, j, k;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_message_t    *msg, *m;
    ngx_http_llm_tool_call_t  *tc;

    msg = req->messages.elts;
    m = &msg[n];

    name = NULL;

    for (i = n; name == NULL && i > 0; i--) {

        if (msg[i - 1].role != NGX_HTTP_LLM_ROLE_ASSISTANT) {
            continue;
        }

        tc = msg[i - 1].tool_calls.elts;

        for (j = 0; j < msg[i - 1].tool_calls.nelts; j++) {
            if (tc[j].id.len == m->tool_call_id.len
                && ngx_memcmp(tc[j].id.data, m->tool_call_id.data,
                               m->tool_call_id.len) == 0)
            {
                name = &tc[j].name;
                break;
            }
        }
    }

    if (name == NULL) {
        name = m->name.len ? &m->name : &m->tool_call_id;

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: no tool call for a tool result, "
                      "sent as function \"%V\"", name);
    }

    ngx_http_llm_jw_lit(jw, "{\"functionResponse\":{\"name\":");
    ngx_http_llm_jw_string(jw, name);
    ngx_http_llm_jw_lit(jw, ",\"response\":");

    /* one text part is used in place; several are joined */

    part = m->parts.elts;
    ngx_str_null(&text);
    k = 0;

    for (i = 0; i < m->parts.nelts; i++) {
        if (part[i].type == NGX_HTTP_LLM_PART_TEXT) {
            text = part[i].text;
            k++;
        }
    }

    if (k == 1 && !m->is_error) {
        rc = ngx_http_llm_gemini_is_object(r->pool, &text);

        if (rc == NGX_ERROR) {
            jw->failed = 1;
            return;
        }

        if (rc == NGX_OK) {
            ngx_http_llm_jw_raw(jw, text.data, text.len);
            ngx_http_llm_jw_lit(jw, "}}");
            return;
        }
    }

    if (m->is_error) {
        ngx_http_llm_jw_lit(jw, "{\"error\":");

    } else {
        ngx_http_llm_jw_lit(jw, "{\"content\":");
    }

    if (k == 1) {
        ngx_http_llm_jw_string(jw, &text);

    } else {
        ngx_http_llm_gemini_message_text(m, jw);
    }

    ngx_http_llm_jw_lit(jw, "}}}");
}


/* the text parts of a message as one JSON string */

static void
ngx_http_llm_gemini_message_text(ngx_http_llm_message_t *msg,
    ngx_http_llm_jw_t *jw)
{
    u_char               *p;
    size_t                len;
    ngx_str_t             text;
    ngx_uint_t            i;
    ngx_http_llm_part_t  *part;

    part = msg->parts.elts;
    len = 0;

    for (i = 0; i < msg->parts.nelts; i++) {
        if (part[i].type == NGX_HTTP_LLM_PART_TEXT) {
            len += part[i].text.len;
        }
    }

    p = ngx_pnalloc(jw->pool, len + 1);
    if (p == NULL) {
        jw->failed = 1;
        return;
    }

    text.data = p;

    for (i = 0; i < msg->parts.nelts; i++) {
        if (part[i].type == NGX_HTTP_LLM_PART_TEXT) {
            p = ngx_cpymem(p, part[i].text.data, part[i].text.len);
        }
    }

    text.len = p - text.data;

    ngx_http_llm_jw_string(jw, &text);
}


/* NGX_OK: the text is one JSON object; NGX_DECLINED: it is not */

static ngx_int_t
ngx_http_llm_gemini_is_object(ngx_pool_t *pool, ngx_str_t *text)
{
    return ngx_http_llm_json_is_object(text->data, text->len)
           ? NGX_OK : NGX_DECLINED;
}


/*
 * tools as functionDeclarations, their JSON Schema untouched in
 * "parametersJsonSchema" (no clean-up into Gemini's OpenAPI subset), and
 * tool_choice as toolConfig.functionCallingConfig
 */

static void
ngx_http_llm_gemini_tools(ngx_http_llm_request_t *req, ngx_http_llm_jw_t *jw)
{
    ngx_uint_t            i;
    ngx_http_llm_tool_t  *tool;

    if (req->tools.nelts == 0) {
        return;
    }

    ngx_http_llm_jw_lit(jw, ",\"tools\":[{\"functionDeclarations\":[");

    tool = req->tools.elts;

    for (i = 0; i < req->tools.nelts; i++) {

        if (i) {
            ngx_http_llm_jw_lit(jw, ",");
        }

        ngx_http_llm_jw_lit(jw, "{\"name\":");
        ngx_http_llm_jw_string(jw, &tool[i].name);

        if (tool[i].description.len) {
            ngx_http_llm_jw_lit(jw, ",\"description\":");
            ngx_http_llm_jw_string(jw, &tool[i].description);
        }

        if (tool[i].parameters.len) {
            ngx_http_llm_jw_lit(jw, ",\"parametersJsonSchema\":");
            ngx_http_llm_jw_raw(jw, tool[i].parameters.data,
                                tool[i].parameters.len);
        }

        ngx_http_llm_jw_lit(jw, "}");
    }

    ngx_http_llm_jw_lit(jw, "]}]");

    switch (req->tool_choice) {

    case NGX_HTTP_LLM_TOOL_CHOICE_AUTO:
        ngx_http_llm_jw_lit(jw, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"AUTO\"}}");
        break;

    case NGX_HTTP_LLM_TOOL_CHOICE_NONE:
        ngx_http_llm_jw_lit(jw, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"NONE\"}}");
        break;

    case NGX_HTTP_LLM_TOOL_CHOICE_ANY:
        ngx_http_llm_jw_lit(jw, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"ANY\"}}");
        break;

    case NGX_HTTP_LLM_TOOL_CHOICE_NAMED:
        ngx_http_llm_jw_lit(jw, ",\"toolConfig\":{\"functionCallingConfig\":"
                                "{\"mode\":\"ANY\","
                                "\"allowedFunctionNames\":[");
        ngx_http_llm_jw_string(jw, &req->tool_choice_name);
        ngx_http_llm_jw_lit(jw, "]}}");
        break;

    default: /* NGX_HTTP_LLM_TOOL_CHOICE_UNSET */
        break;
    }
}


/*
 * generationConfig.  reasoning_effort becomes a thinking budget (the
 * numbers of Gemini's own OpenAI-compatible endpoint: low 1024, medium
 * 8192, high 24576; "minimal" 512, the smallest every 2.5 model takes;
 * "none" 0), with thought summaries on so that reasoning is returned;
 * an explicit budget (Anthropic's thinking.budget_tokens) wins.
 */

static void
ngx_http_llm_gemini_generation(ngx_http_llm_request_t *req,
    ngx_http_llm_provider_conf_t *pc, ngx_http_llm_jw_t *jw)
{
    ngx_int_t    budget, max_tokens;
    ngx_str_t   *stop, *e;
    ngx_uint_t   i, n;

    n = 0;


    max_tokens = req->max_tokens;

    if (max_tokens < 0 && pc->max_tokens > 0) {
        max_tokens = pc->max_tokens;
    }

    if (max_tokens >= 0) {
        ngx_http_llm_gemini_field(jw, &n, "maxOutputTokens");
        ngx_http_llm_jw_int(jw, max_tokens);
    }

    if (req->temperature.len) {
        ngx_http_llm_gemini_field(jw, &n, "temperature");
        ngx_http_llm_gemini_raw(jw, &req->temperature);
    }

    if (req->top_p.len) {
        ngx_http_llm_gemini_field(jw, &n, "topP");
        ngx_http_llm_gemini_raw(jw, &req->top_p);
    }

    if (req->top_k.len) {
        ngx_http_llm_gemini_field(jw, &n, "topK");
        ngx_http_llm_gemini_raw(jw, &req->top_k);
    }

    if (req->stop.nelts) {
        ngx_http_llm_gemini_field(jw, &n, "stopSequences");
        ngx_http_llm_jw_lit(jw, "[");

        stop = req->stop.elts;

        for (i = 0; i < req->stop.nelts; i++) {
            if (i) {
                ngx_http_llm_jw_lit(jw, ",");
            }

            ngx_http_llm_jw_string(jw, &stop[i]);
        }

        ngx_http_llm_jw_lit(jw, "]");
    }

    if (req->n > 1) {
        ngx_http_llm_gemini_field(jw, &n, "candidateCount");
        ngx_http_llm_jw_int(jw, req->n);
    }

    if (req->seed.len) {
        ngx_http_llm_gemini_field(jw, &n, "seed");
        ngx_http_llm_gemini_raw(jw, &req->seed);
    }

    if (req->presence_penalty.len) {
        ngx_http_llm_gemini_field(jw, &n, "presencePenalty");
        ngx_http_llm_gemini_raw(jw, &req->presence_penalty);
    }

    if (req->frequency_penalty.len) {
        ngx_http_llm_gemini_field(jw, &n, "frequencyPenalty");
        ngx_http_llm_gemini_raw(jw, &req->frequency_penalty);
    }

    if (req->format == NGX_HTTP_LLM_FORMAT_JSON
        || req->format == NGX_HTTP_LLM_FORMAT_SCHEMA)
    {
        ngx_http_llm_gemini_field(jw, &n, "responseMimeType");
        ngx_http_llm_jw_lit(jw, "\"application/json\"");

        if (req->format == NGX_HTTP_LLM_FORMAT_SCHEMA && req->schema.len) {
            ngx_http_llm_gemini_field(jw, &n, "responseJsonSchema");
            ngx_http_llm_gemini_raw(jw, &req->schema);
        }
    }

    budget = req->thinking_budget;
    e = &req->reasoning_effort;

    if (budget < 0 && e->len) {

        if (e->len == 4 && ngx_memcmp(e->data, "none", 4) == 0) {
            budget = 0;

        } else if (e->len == 7 && ngx_memcmp(e->data, "minimal", 7) == 0) {
            budget = 512;

        } else if (e->len == 3 && ngx_memcmp(e->data, "low", 3) == 0) {
            budget = 1024;

        } else if (e->len == 6 && ngx_memcmp(e->data, "medium", 6) == 0) {
            budget = 8192;

        } else if (e->len == 4 && ngx_memcmp(e->data, "high", 4) == 0) {
            budget = 24576;
        }
    }

    if (budget >= 0) {
        ngx_http_llm_gemini_field(jw, &n, "thinkingConfig");
        ngx_http_llm_jw_lit(jw, "{\"thinkingBudget\":");
        ngx_http_llm_jw_int(jw, budget);

        if (budget > 0) {
            ngx_http_llm_jw_lit(jw, ",\"includeThoughts\":true");
        }

        ngx_http_llm_jw_lit(jw, "}");
    }

    if (n) {
        ngx_http_llm_jw_lit(jw, "}");
    }
}


/* the key of a generationConfig field, opening the object first */

static void
ngx_http_llm_gemini_field(ngx_http_llm_jw_t *jw, ngx_uint_t *n,
    const char *name)
{
    if ((*n)++ == 0) {
        ngx_http_llm_jw_lit(jw, ",\"generationConfig\":{");

    } else {
        ngx_http_llm_jw_lit(jw, ",");
    }

    ngx_http_llm_jw_lit(jw, "\"");
    ngx_http_llm_jw_raw(jw, (u_char *) name, ngx_strlen(name));
    ngx_http_llm_jw_lit(jw, "\":");
}


/*
 * OpenAI /v1/embeddings as batchEmbedContents (PROVIDERS.md 3.6): one
 * request per input, each naming the model again; "dimensions" is
 * outputDimensionality.  The answer's embeddings come in input order and
 * carry no token counts: usage is zeros.
 */

static void
ngx_http_llm_gemini_embed_body(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *model, ngx_http_llm_jw_t *jw)
{
    ngx_str_t             *s;
    ngx_uint_t             i;
    ngx_http_llm_embed_t  *em;

    em = ctx->embed;
    s = em->input.elts;

    ngx_http_llm_jw_lit(jw, "{\"requests\":[");

    for (i = 0; i < em->input.nelts; i++) {
        if (i) {
            ngx_http_llm_jw_lit(jw, ",");
        }

        /* the model is URL-safe: nothing to escape */

        ngx_http_llm_jw_lit(jw, "{\"model\":\"models/");
        ngx_http_llm_jw_raw(jw, model->data, model->len);
        ngx_http_llm_jw_lit(jw, "\",\"content\":{\"parts\":[{\"text\":");
        ngx_http_llm_jw_string(jw, &s[i]);
        ngx_http_llm_jw_lit(jw, "}]}");

        if (em->dimensions > 0) {
            ngx_http_llm_jw_lit(jw, ",\"outputDimensionality\":");
            ngx_http_llm_jw_int(jw, em->dimensions);
        }

        ngx_http_llm_jw_lit(jw, "}");
    }

    ngx_http_llm_jw_lit(jw, "]}");
}


static ngx_int_t
ngx_http_llm_gemini_embed_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out)
{
    ngx_int_t            rc;
    ngx_http_llm_json_t  js;

    rc = ngx_http_llm_embed_json(r, body, &js);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llm_embed_array(r, ctx, &js,
                                    ngx_http_llm_json_get(&js, 0,
                                                          "embeddings"),
                                    "values", out);
}


static ngx_int_t
ngx_http_llm_gemini_response(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_chain_t **out)
{
    ngx_int_t                 rc, c, cand, content, v, f;
    ngx_http_llm_json_t       js;
    ngx_http_llm_response_t   resp;

    if (ctx->count_tokens) {
        return ngx_http_llm_count_response(r, ctx, body, "totalTokens", out);
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        return ngx_http_llm_gemini_embed_response(r, ctx, body, out);
    }

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len,
                                 NGX_HTTP_LLM_GEMINI_MAX_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    c = ngx_http_llm_json_get(&js, 0, "candidates");
    f = ngx_http_llm_json_get(&js, 0, "promptFeedback");

    if ((c < 0 || ngx_http_llm_json_type(&js, c) != NGX_HTTP_LLM_JSON_ARRAY)
        && (f < 0
            || ngx_http_llm_json_type(&js, f) != NGX_HTTP_LLM_JSON_OBJECT))
    {
        return NGX_DECLINED;
    }

    ngx_memzero(&resp, sizeof(ngx_http_llm_response_t));

    if (ngx_array_init(&resp.tool_calls, r->pool, 1,
                       sizeof(ngx_http_llm_tool_call_t))
        != NGX_OK
        || ngx_array_init(&resp.thinking, r->pool, 1,
                          sizeof(ngx_http_llm_part_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    resp.created = ngx_time();

    v = ngx_http_llm_json_get(&js, 0, "responseId");

    if (ngx_http_llm_json_string(r->pool, &js, v, &resp.id) == NGX_ERROR) {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(&js, 0, "modelVersion");

    rc = ngx_http_llm_json_string(r->pool, &js, v, &resp.model);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK || resp.model.len == 0) {
        resp.model = ctx->upstream_model;
    }

    ngx_http_llm_gemini_usage(&js, ngx_http_llm_json_get(&js, 0,
                                                         "usageMetadata"),
                              &ctx->usage);
    resp.usage = ctx->usage;

    /* the first candidate: the canonical response has one choice */

    cand = ngx_http_llm_gemini_candidate(&js, c);

    if (cand < 0) {
        /* the prompt was blocked: no candidates at all */

        v = ngx_http_llm_json_get(&js, f, "blockReason");

        resp.finish = (v >= 0) ? NGX_HTTP_LLM_FINISH_FILTER
                               : NGX_HTTP_LLM_FINISH_STOP;

        return ngx_http_llm_emit_response(r, ctx, &resp, out);
    }

    content = ngx_http_llm_json_get(&js, cand, "content");
    v = ngx_http_llm_json_get(&js, content, "parts");

    if (ngx_http_llm_gemini_parts(r, r->pool, &js, v, &resp) != NGX_OK) {
        return NGX_ERROR;
    }

    resp.finish = ngx_http_llm_gemini_finish(&js,
                                 ngx_http_llm_json_get(&js, cand,
                                                       "finishReason"));

    if (resp.tool_calls.nelts
        && (resp.finish == NGX_HTTP_LLM_FINISH_STOP
            || resp.finish == NGX_HTTP_LLM_FINISH_NONE))
    {
        resp.finish = NGX_HTTP_LLM_FINISH_TOOL_CALLS;
    }

    if (resp.finish == NGX_HTTP_LLM_FINISH_NONE) {
        resp.finish = NGX_HTTP_LLM_FINISH_STOP;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm gemini response: %uz text bytes, %ui tool "
                   "calls, finish %ui", resp.text.len, resp.tool_calls.nelts,
                   resp.finish);

    return ngx_http_llm_emit_response(r, ctx, &resp, out);
}


/*
 * The parts of a candidate: text joined, thought summaries joined as
 * reasoning, function calls as tool calls.
 */

static ngx_int_t
ngx_http_llm_gemini_parts(ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t parts, ngx_http_llm_response_t *resp)
{
    u_char                    *p;
    size_t                     tlen, rlen;
    ngx_int_t                  i, part, v, fc;
    ngx_str_t                  s, sig, *dst;
    ngx_http_llm_tool_call_t  *tc;

    if (parts < 0 || ngx_http_llm_json_type(js, parts)
                     != NGX_HTTP_LLM_JSON_ARRAY)
    {
        return NGX_OK;
    }

    /* measure the joined texts: escaped lengths are upper bounds */

    tlen = 0;
    rlen = 0;

    for (i = 0; ; i++) {
        part = ngx_http_llm_json_index(js, parts, i);

        if (part < 0) {
            break;
        }

        v = ngx_http_llm_json_get(js, part, "text");

        if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING)
        {
            continue;
        }

        if (ngx_http_llm_gemini_true(js, part, "thought")) {
            rlen += js->toks[v].end - js->toks[v].start;

        } else {
            tlen += js->toks[v].end - js->toks[v].start;
        }
    }

    if (tlen) {
        resp->text.data = ngx_pnalloc(pool, tlen);
        if (resp->text.data == NULL) {
            return NGX_ERROR;
        }
    }

    if (rlen) {
        resp->reasoning.data = ngx_pnalloc(pool, rlen);
        if (resp->reasoning.data == NULL) {
            return NGX_ERROR;
        }
    }

    for (i = 0; ; i++) {
        part = ngx_http_llm_json_index(js, parts, i);

        if (part < 0) {
            break;
        }

        v = ngx_http_llm_json_get(js, part, "text");

        if (v >= 0
            && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING)
        {
            if (ngx_http_llm_json_string(pool, js, v, &s) != NGX_OK) {
                return NGX_ERROR;
            }

            dst = ngx_http_llm_gemini_true(js, part, "thought")
                  ? &resp->reasoning : &resp->text;

            p = ngx_cpymem(dst->data + dst->len, s.data, s.len);
            dst->len = p - dst->data;
            continue;
        }

        fc = ngx_http_llm_json_get(js, part, "functionCall");

        if (fc < 0
            || ngx_http_llm_json_type(js, fc) != NGX_HTTP_LLM_JSON_OBJECT)
        {
            continue;
        }

        tc = ngx_array_push(&resp->tool_calls);
        if (tc == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));

        v = ngx_http_llm_json_get(js, fc, "name");

        if (ngx_http_llm_json_string(pool, js, v, &tc->name) == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_gemini_args(pool, js,
                                     ngx_http_llm_json_get(js, fc, "args"),
                                     &tc->arguments)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_null(&sig);

        v = ngx_http_llm_json_get(js, part, "thoughtSignature");

        if (ngx_http_llm_json_string(pool, js, v, &sig) == NGX_ERROR) {
            return NGX_ERROR;
        }

        tc->signature = sig;

        if (ngx_http_llm_gemini_call_id(pool, &sig, &tc->id) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * "args" as compact JSON text ("{}" when absent): Gemini pretty-prints,
 * OpenAI's own arguments have no whitespace
 */

static ngx_int_t
ngx_http_llm_gemini_args(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t v, ngx_str_t *out)
{
    u_char      *p, *last, *d;
    ngx_uint_t   quoted;

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_OBJECT) {
        ngx_str_set(out, "{}");
        return NGX_OK;
    }

    p = js->data + js->toks[v].start;
    last = js->data + js->toks[v].end;

    d = ngx_pnalloc(pool, last - p);
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;
    quoted = 0;

    for ( /* void */ ; p < last; p++) {

        if (quoted) {
            *d++ = *p;

            if (*p == '\\' && p + 1 < last) {
                *d++ = *++p;

            } else if (*p == '"') {
                quoted = 0;
            }

            continue;
        }

        switch (*p) {

        case ' ': case '\t': case CR: case LF:
            continue;

        case '"':
            quoted = 1;
            /* fall through */

        default:
            *d++ = *p;
        }
    }

    out->len = d - out->data;

    return NGX_OK;
}


/*
 * "call_" and 24 letters and digits; a thought signature follows as
 * "__thought__" and the signature in base64url without padding, so that
 * the id stays within [A-Za-z0-9_-] (Anthropic's rule for tool ids too)
 */

static ngx_int_t
ngx_http_llm_gemini_call_id(ngx_pool_t *pool, ngx_str_t *signature,
    ngx_str_t *id)
{
    u_char      *p, *s, *last;
    size_t       len;
    ngx_uint_t   i;

    static u_char  alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz0123456789";

    len = sizeof("call_") - 1 + NGX_HTTP_LLM_GEMINI_ID_LEN;

    if (signature->len) {
        len += sizeof("__thought__") - 1 + signature->len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    id->data = p;

    p = ngx_cpymem(p, "call_", sizeof("call_") - 1);

    for (i = 0; i < NGX_HTTP_LLM_GEMINI_ID_LEN; i++) {
        *p++ = alnum[(ngx_uint_t) ngx_random() % (sizeof(alnum) - 1)];
    }

    if (signature->len) {
        p = ngx_cpymem(p, "__thought__", sizeof("__thought__") - 1);

        last = signature->data + signature->len;

        for (s = signature->data; s < last; s++) {
            switch (*s) {
            case '+':
                *p++ = '-';
                break;
            case '/':
                *p++ = '_';
                break;
            case '=':
                break;
            default:
                *p++ = *s;
            }
        }
    }

    id->len = p - id->data;

    return NGX_OK;
}


/* the signature in an id made by ngx_http_llm_gemini_call_id() */

static ngx_int_t
ngx_http_llm_gemini_id_signature(ngx_pool_t *pool, ngx_str_t *id,
    ngx_str_t *signature)
{
    u_char  *p, *s, *last, *d;
    size_t   len;

    last = id->data + id->len;

    p = ngx_strlcasestrn(id->data, last, (u_char *) "__thought__",
                         sizeof("__thought__") - 1 - 1);

    if (p == NULL || p + sizeof("__thought__") - 1 == last) {
        return NGX_DECLINED;
    }

    p += sizeof("__thought__") - 1;
    len = last - p;

    for (s = p; s < last; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
              || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
        {
            return NGX_DECLINED;
        }
    }

    /* back to standard base64, padded: the bytes Gemini sent */

    d = ngx_pnalloc(pool, len + 3);
    if (d == NULL) {
        return NGX_ERROR;
    }

    signature->data = d;

    for (s = p; s < last; s++) {
        *d++ = (*s == '-') ? '+' : (*s == '_') ? '/' : *s;
    }

    while ((d - signature->data) % 4) {
        *d++ = '=';
    }

    signature->len = d - signature->data;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_llm_gemini_finish(ngx_http_llm_json_t *js, ngx_int_t v)
{
    ngx_str_t    s;
    ngx_uint_t   i;

    static ngx_str_t  filter[] = {
        ngx_string("SAFETY"),
        ngx_string("RECITATION"),
        ngx_string("BLOCKLIST"),
        ngx_string("PROHIBITED_CONTENT"),
        ngx_string("SPII"),
        ngx_string("IMAGE_SAFETY"),
        ngx_string("IMAGE_PROHIBITED_CONTENT"),
        ngx_string("IMAGE_RECITATION"),
        ngx_string("LANGUAGE"),
        ngx_null_string
    };

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING) {
        return NGX_HTTP_LLM_FINISH_NONE;
    }

    ngx_http_llm_json_raw(js, v, &s);

    if (s.len == 10 && ngx_memcmp(s.data, "MAX_TOKENS", 10) == 0) {
        return NGX_HTTP_LLM_FINISH_LENGTH;
    }

    for (i = 0; filter[i].len; i++) {
        if (filter[i].len == s.len
            && ngx_memcmp(filter[i].data, s.data, s.len) == 0)
        {
            return NGX_HTTP_LLM_FINISH_FILTER;
        }
    }

    return NGX_HTTP_LLM_FINISH_STOP;
}


/*
 * usageMetadata: candidatesTokenCount excludes thoughtsTokenCount, OpenAI's
 * completion_tokens includes reasoning; a stream's last snapshot wins
 */

static void
ngx_http_llm_gemini_usage(ngx_http_llm_json_t *js, ngx_int_t u,
    ngx_http_llm_usage_t *usage)
{
    ngx_int_t  v, n;

    if (u < 0 || ngx_http_llm_json_type(js, u) != NGX_HTTP_LLM_JSON_OBJECT) {
        return;
    }

    ngx_memzero(usage, sizeof(ngx_http_llm_usage_t));

    usage->known = 1;

    v = ngx_http_llm_json_get(js, u, "promptTokenCount");
    (void) ngx_http_llm_json_int(js, v, &usage->prompt);

    v = ngx_http_llm_json_get(js, u, "candidatesTokenCount");
    (void) ngx_http_llm_json_int(js, v, &usage->completion);

    v = ngx_http_llm_json_get(js, u, "thoughtsTokenCount");

    if (ngx_http_llm_json_int(js, v, &n) == NGX_OK) {
        usage->completion += n;
    }

    v = ngx_http_llm_json_get(js, u, "cachedContentTokenCount");
    (void) ngx_http_llm_json_int(js, v, &usage->cached);

    v = ngx_http_llm_json_get(js, u, "totalTokenCount");

    if (ngx_http_llm_json_int(js, v, &usage->total) != NGX_OK) {
        usage->total = usage->prompt + usage->completion;
    }
}


/*
 * The candidate with index 0 (Gemini leaves "index" out for 0): with
 * candidateCount > 1 a stream event may carry another candidate only
 */

static ngx_int_t
ngx_http_llm_gemini_candidate(ngx_http_llm_json_t *js, ngx_int_t c)
{
    ngx_int_t  i, cand, n;

    for (i = 0; ; i++) {
        cand = ngx_http_llm_json_index(js, c, i);

        if (cand < 0) {
            return -1;
        }

        if (ngx_http_llm_json_int(js, ngx_http_llm_json_get(js, cand,
                                                            "index"),
                                  &n)
            != NGX_OK
            || n == 0)
        {
            return cand;
        }
    }
}


static ngx_int_t
ngx_http_llm_gemini_true(ngx_http_llm_json_t *js, ngx_int_t obj,
    const char *key)
{
    return ngx_http_llm_json_bool(js, ngx_http_llm_json_get(js, obj, key))
           == 1;
}


/*
 * An "alt=sse" stream: every event is a whole GenerateContentResponse
 * with the new parts only; the stream just ends, with no event of its
 * own (data == NULL here): the finish, usage and end are sent then.
 * Each event is parsed in a pool of its own, freed at once, so that a
 * long stream takes no more memory than its largest event.
 */

static ngx_int_t
ngx_http_llm_gemini_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll)
{
    ngx_int_t                      rc, e, c, cand, content, v;
    ngx_str_t                      s;
    ngx_uint_t                     finish;
    ngx_pool_t                    *pool;
    ngx_http_llm_json_t            js;
    ngx_http_llm_delta_t           delta;
    ngx_http_llm_gemini_stream_t  *st;

    st = ctx->in_state;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_gemini_stream_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        ctx->in_state = st;
    }

    if (st->done) {
        return NGX_OK;
    }

    if (data == NULL) {
        return ngx_http_llm_gemini_stream_close(r, ctx, st, ll);
    }

    if (data->len == 0) {
        return NGX_OK;
    }

    pool = ngx_create_pool(4096, r->connection->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llm_json_parse(pool, &js, data->data, data->len,
                                 NGX_HTTP_LLM_GEMINI_MAX_TOKENS);

    if (rc == NGX_ERROR) {
        goto failed;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: gemini provider \"%V\" sent an invalid stream "
                      "event", &ctx->provider->name);

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_ERROR;
        delta.status = NGX_HTTP_BAD_GATEWAY;
        ngx_str_set(&delta.error_type, "api_error");
        ngx_str_set(&delta.error_message,
                    "The model provider sent an invalid stream event.");

        rc = ngx_http_llm_emit_delta(r, ctx, &delta, ll);

        if (rc == NGX_OK) {
            ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
            delta.type = NGX_HTTP_LLM_DELTA_DONE;
            rc = ngx_http_llm_emit_delta(r, ctx, &delta, ll);
        }

        st->done = 1;
        goto done;
    }

    /* an error in the stream: {"error":{"code","message","status"}} */

    e = ngx_http_llm_json_get(&js, 0, "error");

    if (e >= 0) {
        rc = ngx_http_llm_gemini_stream_error(r, ctx, pool, &js, e, ll);
        st->done = 1;
        goto done;
    }

    if (!st->started) {
        st->started = 1;

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_START;

        /* copied: a surface may keep them for every chunk */

        v = ngx_http_llm_json_get(&js, 0, "responseId");

        if (ngx_http_llm_json_string(pool, &js, v, &s) == NGX_OK
            && s.len)
        {
            delta.id.data = ngx_pstrdup(r->pool, &s);
            if (delta.id.data == NULL) {
                goto failed;
            }

            delta.id.len = s.len;
        }

        v = ngx_http_llm_json_get(&js, 0, "modelVersion");

        if (ngx_http_llm_json_string(pool, &js, v, &s) == NGX_OK
            && s.len)
        {
            delta.model.data = ngx_pstrdup(r->pool, &s);
            if (delta.model.data == NULL) {
                goto failed;
            }

            delta.model.len = s.len;

        } else {
            delta.model = ctx->upstream_model;
        }

        if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
            goto failed;
        }
    }

    ngx_http_llm_gemini_usage(&js, ngx_http_llm_json_get(&js, 0,
                                                         "usageMetadata"),
                              &ctx->usage);

    c = ngx_http_llm_json_get(&js, 0, "candidates");
    cand = ngx_http_llm_gemini_candidate(&js, c);

    if (cand < 0) {

        /* the prompt was blocked, or another candidate's event */

        v = ngx_http_llm_json_get(&js, 0, "promptFeedback");

        if (ngx_http_llm_json_get(&js, v, "blockReason") >= 0
            && !st->finished)
        {
            st->finished = 1;

            ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
            delta.type = NGX_HTTP_LLM_DELTA_FINISH;
            delta.finish = NGX_HTTP_LLM_FINISH_FILTER;

            rc = ngx_http_llm_emit_delta(r, ctx, &delta, ll);
            goto done;
        }

        rc = NGX_OK;
        goto done;
    }

    content = ngx_http_llm_json_get(&js, cand, "content");
    v = ngx_http_llm_json_get(&js, content, "parts");

    if (ngx_http_llm_gemini_stream_parts(r, ctx, pool, &js, v, ll) != NGX_OK)
    {
        goto failed;
    }

    finish = ngx_http_llm_gemini_finish(&js,
                                 ngx_http_llm_json_get(&js, cand,
                                                       "finishReason"));

    rc = NGX_OK;

    if (finish != NGX_HTTP_LLM_FINISH_NONE && !st->finished) {
        st->finished = 1;

        if (st->ntools && finish == NGX_HTTP_LLM_FINISH_STOP) {
            finish = NGX_HTTP_LLM_FINISH_TOOL_CALLS;
        }

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_FINISH;
        delta.finish = finish;

        rc = ngx_http_llm_emit_delta(r, ctx, &delta, ll);
    }

done:

    ngx_destroy_pool(pool);

    return rc;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_llm_gemini_stream_parts(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t parts, ngx_chain_t ***ll)
{
    ngx_int_t                      i, part, v, fc;
    ngx_str_t                      sig, args, name;
    ngx_http_llm_delta_t           delta;
    ngx_http_llm_gemini_stream_t  *st;

    st = ctx->in_state;

    if (parts < 0
        || ngx_http_llm_json_type(js, parts) != NGX_HTTP_LLM_JSON_ARRAY)
    {
        return NGX_OK;
    }

    for (i = 0; ; i++) {
        part = ngx_http_llm_json_index(js, parts, i);

        if (part < 0) {
            break;
        }

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));

        v = ngx_http_llm_json_get(js, part, "text");

        if (v >= 0
            && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING)
        {
            if (js->toks[v].end == js->toks[v].start) {
                /* the last event's empty part, with a signature */
                continue;
            }

            if (ngx_http_llm_json_string(pool, js, v, &delta.text) != NGX_OK)
            {
                return NGX_ERROR;
            }

            delta.type = ngx_http_llm_gemini_true(js, part, "thought")
                         ? NGX_HTTP_LLM_DELTA_REASONING
                         : NGX_HTTP_LLM_DELTA_TEXT;

            if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        fc = ngx_http_llm_json_get(js, part, "functionCall");
        v = ngx_http_llm_json_get(js, fc, "name");

        /* Vertex AI's streamed partialArgs (not asked for) are skipped */

        if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING)
        {
            continue;
        }

        /* the id and name in the request's pool: a surface may keep them */

        if (ngx_http_llm_json_string(pool, js, v, &name) != NGX_OK) {
            return NGX_ERROR;
        }

        delta.name.data = ngx_pstrdup(r->pool, &name);
        if (delta.name.data == NULL) {
            return NGX_ERROR;
        }

        delta.name.len = name.len;

        ngx_str_null(&sig);

        v = ngx_http_llm_json_get(js, part, "thoughtSignature");

        if (ngx_http_llm_json_string(pool, js, v, &sig) == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_gemini_call_id(r->pool, &sig, &delta.id) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_gemini_args(pool, js,
                                     ngx_http_llm_json_get(js, fc, "args"),
                                     &args)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        delta.type = NGX_HTTP_LLM_DELTA_TOOL_START;
        delta.index = st->ntools++;

        if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_TOOL_ARGS;
        delta.index = st->ntools - 1;
        delta.text = args;

        if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the upstream body ended: finish, usage and the end of the stream */

static ngx_int_t
ngx_http_llm_gemini_stream_close(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_gemini_stream_t *st,
    ngx_chain_t ***ll)
{
    ngx_http_llm_delta_t  delta;

    st->done = 1;

    if (!st->started) {
        st->started = 1;

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_START;
        delta.model = ctx->upstream_model;

        if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (!st->finished) {
        st->finished = 1;

        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_FINISH;
        delta.finish = st->ntools ? NGX_HTTP_LLM_FINISH_TOOL_CALLS
                                  : NGX_HTTP_LLM_FINISH_STOP;

        if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ctx->usage.known) {
        ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
        delta.type = NGX_HTTP_LLM_DELTA_USAGE;

        if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_DONE;

    return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
}


static ngx_int_t
ngx_http_llm_gemini_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t e, ngx_chain_t ***ll)
{
    ngx_int_t                      v, code;
    ngx_str_t                      status;
    ngx_http_llm_delta_t           delta;
    ngx_http_llm_gemini_status_t  *s;

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_ERROR;
    delta.status = NGX_HTTP_BAD_GATEWAY;

    v = ngx_http_llm_json_get(js, e, "code");

    if (ngx_http_llm_json_int(js, v, &code) == NGX_OK
        && code >= 400 && code <= 599)
    {
        delta.status = code;
    }

    v = ngx_http_llm_json_get(js, e, "message");

    if (ngx_http_llm_json_string(pool, js, v, &delta.error_message)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    if (delta.error_message.len == 0) {
        ngx_str_set(&delta.error_message,
                    "The model provider returned an error.");
    }

    ngx_str_set(&delta.error_type, "api_error");

    v = ngx_http_llm_json_get(js, e, "status");

    if (v >= 0 && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
        ngx_http_llm_json_raw(js, v, &status);

        for (s = ngx_http_llm_gemini_statuses; s->status.len; s++) {
            if (s->status.len == status.len
                && ngx_memcmp(s->status.data, status.data, status.len) == 0)
            {
                delta.error_type = s->type;
                break;
            }
        }
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm: gemini provider \"%V\" sent an error in the "
                  "stream (%ui)", &ctx->provider->name, delta.status);

    if (ngx_http_llm_emit_delta(r, ctx, &delta, ll) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_DONE;

    return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
}


/*
 * {"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED",
 * "details":[...]}}, as an object or, from streamGenerateContent without
 * "alt=sse", the first element of an array
 */

static ngx_int_t
ngx_http_llm_gemini_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_str_t *message, ngx_str_t *type, ngx_str_t *code)
{
    ngx_int_t                      rc, top, e, m, s;
    ngx_str_t                      status;
    ngx_http_llm_json_t            js;
    ngx_http_llm_gemini_status_t  *st;

    if (body->len == 0) {
        return NGX_DECLINED;
    }

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len, 65536);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    top = 0;

    if (ngx_http_llm_json_type(&js, 0) == NGX_HTTP_LLM_JSON_ARRAY) {
        top = ngx_http_llm_json_index(&js, 0, 0);
    }

    e = ngx_http_llm_json_get(&js, top, "error");

    if (e < 0 || ngx_http_llm_json_type(&js, e) != NGX_HTTP_LLM_JSON_OBJECT) {
        return NGX_DECLINED;
    }

    m = ngx_http_llm_json_get(&js, e, "message");

    rc = ngx_http_llm_json_string(r->pool, &js, m, message);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    s = ngx_http_llm_json_get(&js, e, "status");

    if (s < 0 || ngx_http_llm_json_type(&js, s) != NGX_HTTP_LLM_JSON_STRING) {
        return message->len ? NGX_OK : NGX_DECLINED;
    }

    ngx_http_llm_json_raw(&js, s, &status);

    /*
     * a key Gemini does not take comes back as 400 INVALID_ARGUMENT with
     * the reason API_KEY_INVALID: the gateway's fault, not the client's
     */

    if (ngx_strlcasestrn(body->data, body->data + body->len,
                         (u_char *) "API_KEY_INVALID", 15 - 1))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" rejected the configured key",
                      &ctx->provider->name);

        ngx_str_set(message, "The model provider rejected the gateway's "
                             "credentials.");
        ngx_str_set(type, "api_error");
        ngx_str_set(code, "upstream_auth_error");
        return NGX_OK;
    }

    for (st = ngx_http_llm_gemini_statuses; st->status.len; st++) {
        if (st->status.len == status.len
            && ngx_memcmp(st->status.data, status.data, status.len) == 0)
        {
            *type = st->type;
            break;
        }
    }

    if (status.len == 9 && ngx_memcmp(status.data, "NOT_FOUND", 9) == 0) {
        ngx_str_set(code, "model_not_found");

    } else {
        *code = status;
    }

    return NGX_OK;
}
