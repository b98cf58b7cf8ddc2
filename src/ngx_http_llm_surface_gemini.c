
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
 * The Gemini surface (POST /v1beta/models/{model}:generateContent and
 * :streamGenerateContent?alt=sse, as Google's SDKs call them): parses a
 * GenerateContentRequest into the canonical request and writes canonical
 * responses, stream deltas ("data: {GenerateContentResponse}\r\n\r\n")
 * and errors (google.rpc.Status) in Gemini's format.  The model and the
 * stream flag come from the URL (the handler takes them).
 *
 * Gemini's function calls carry no id (gemini-2.x): a call without one
 * gets "call_N", and a functionResponse without one takes the id of the
 * first unanswered call of the same name before it, so calls and results
 * pair up for providers that need ids (OpenAI, Anthropic).
 */


#define NGX_HTTP_LLM_GEMINI_IN_ID_LEN     24


/* a function call of the request, for ids of the results after it */

typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   name;
    ngx_uint_t                  answered;
} ngx_http_llm_gemini_in_call_t;


typedef struct {
    ngx_array_t                 calls;  /* ngx_http_llm_gemini_in_call_t */
    ngx_uint_t                  next;   /* the next synthesized id */
} ngx_http_llm_gemini_in_t;


/* a tool call of a stream, held until it is complete */

typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   name;
    ngx_http_llm_jw_t           args;
    ngx_uint_t                  used;
} ngx_http_llm_gemini_out_call_t;


/* the state of a stream written to the client */

typedef struct {
    ngx_str_t                   id;
    ngx_http_llm_jw_t           jw;     /* one event, reused */
    ngx_array_t                 calls;  /* ngx_http_llm_gemini_out_call_t */
    ngx_uint_t                  finish;

    unsigned                    finished:1;
    unsigned                    usage:1;
    unsigned                    stopped:1;
} ngx_http_llm_gemini_out_t;


static ngx_int_t ngx_http_llm_gemini_in_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_gemini_in_bad(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, const char *fmt, ...);
static ngx_int_t ngx_http_llm_gemini_in_get(ngx_http_llm_json_t *js,
    ngx_int_t obj, const char *camel, const char *snake);
static ngx_int_t ngx_http_llm_gemini_in_is(ngx_http_request_t *r,
    ngx_http_llm_json_t *js, ngx_int_t v, const char *s);
static ngx_int_t ngx_http_llm_gemini_in_system(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_gemini_in_content(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_http_llm_gemini_in_t *in,
    ngx_int_t c, ngx_uint_t k);
static ngx_int_t ngx_http_llm_gemini_in_part(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_http_llm_gemini_in_t *in,
    ngx_http_llm_message_t *msg, ngx_int_t p, ngx_uint_t k, ngx_uint_t n);
static ngx_int_t ngx_http_llm_gemini_in_media(ngx_http_request_t *r,
    ngx_http_llm_json_t *js, ngx_http_llm_message_t *msg, ngx_int_t d,
    ngx_uint_t file);
static ngx_int_t ngx_http_llm_gemini_in_call(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_gemini_in_t *in, ngx_http_llm_message_t *msg,
    ngx_int_t p, ngx_int_t fc, ngx_uint_t k, ngx_uint_t n);
static ngx_int_t ngx_http_llm_gemini_in_result(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_http_llm_gemini_in_t *in,
    ngx_int_t fr, ngx_uint_t k, ngx_uint_t n);
static ngx_int_t ngx_http_llm_gemini_in_tools(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_gemini_in_tool_config(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_gemini_in_generation(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_gemini_in_number(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js, ngx_int_t g,
    const char *camel, const char *snake, ngx_str_t *out);
static ngx_int_t ngx_http_llm_gemini_in_schema(ngx_http_request_t *r,
    ngx_http_llm_json_t *js, ngx_int_t v, ngx_str_t *out);

static ngx_int_t ngx_http_llm_gemini_in_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out);
static void ngx_http_llm_gemini_in_fcall(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_str_t *id, ngx_str_t *name, ngx_str_t *args,
    ngx_str_t *signature);
static void ngx_http_llm_gemini_in_tail(ngx_http_llm_jw_t *jw,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *id, ngx_uint_t finish,
    ngx_uint_t usage);
static ngx_int_t ngx_http_llm_gemini_in_make_id(ngx_pool_t *pool,
    ngx_str_t *id);

static ngx_int_t ngx_http_llm_gemini_in_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_gemini_in_chunk(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_gemini_out_t *st,
    ngx_http_llm_delta_t *delta, ngx_uint_t last, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_gemini_in_event(ngx_http_request_t *r,
    ngx_http_llm_jw_t *jw, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_gemini_in_stream_error(ngx_http_request_t *r,
    ngx_http_llm_delta_t *delta, ngx_chain_t ***ll);

static ngx_chain_t *ngx_http_llm_gemini_in_write_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code,
    ngx_str_t *message);
static void ngx_http_llm_gemini_in_error_body(ngx_http_llm_jw_t *jw,
    ngx_uint_t status, ngx_str_t *message);


const ngx_http_llm_surface_t  ngx_http_llm_surface_gemini = {
    ngx_string("gemini"),
    ngx_http_llm_gemini_in_parse_request,
    ngx_http_llm_gemini_in_write_response,
    ngx_http_llm_gemini_in_write_delta,
    ngx_http_llm_gemini_in_write_error
};


static ngx_str_t  ngx_http_llm_gemini_in_finish[] = {
    ngx_string("STOP"),                     /* NONE */
    ngx_string("STOP"),                     /* STOP */
    ngx_string("MAX_TOKENS"),               /* LENGTH */
    ngx_string("STOP"),                     /* TOOL_CALLS: Gemini's way */
    ngx_string("SAFETY")                    /* FILTER */
};


/* -- the request ---------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_gemini_in_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t                  rc, v, c;
    ngx_uint_t                 k, n;
    ngx_http_llm_gemini_in_t   in;

    req->model = ctx->model;
    req->stream = ctx->stream;

    /* Gemini clients always get usageMetadata */

    req->include_usage = 1;

    if (ngx_array_init(&in.calls, r->pool, 4,
                       sizeof(ngx_http_llm_gemini_in_call_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    in.next = 0;

    rc = ngx_http_llm_gemini_in_system(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    v = ngx_http_llm_json_get(js, 0, "contents");

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY
        || js->toks[v].size == 0)
    {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "contents: contents is not "
                                          "specified");
    }

    n = js->toks[v].size;

    for (k = 0, c = v + 1; k < n; k++, c = ngx_http_llm_json_skip(js, c)) {
        rc = ngx_http_llm_gemini_in_content(r, ctx, js, req, &in, c, k);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_llm_gemini_in_tools(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llm_gemini_in_tool_config(r, ctx, js, req);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llm_gemini_in_generation(r, ctx, js, req);
}


/* ctx->error, formatted; NGX_DECLINED (the request is bad) */

static ngx_int_t
ngx_http_llm_gemini_in_bad(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    const char *fmt, ...)
{
    ngx_int_t  rc;
    va_list    args;

    va_start(args, fmt);
    rc = ngx_http_llm_vbad(r->pool, &ctx->error, fmt, args);
    va_end(args);

    return rc;
}


/* a member by its lowerCamelCase or snake_case name (both are accepted) */

static ngx_int_t
ngx_http_llm_gemini_in_get(ngx_http_llm_json_t *js, ngx_int_t obj,
    const char *camel, const char *snake)
{
    ngx_int_t  v;

    if (obj < 0) {
        return -1;
    }

    v = ngx_http_llm_json_get(js, obj, camel);

    if (v < 0 && snake) {
        v = ngx_http_llm_json_get(js, obj, snake);
    }

    if (v >= 0 && ngx_http_llm_json_is_null(js, v)) {
        return -1;
    }

    return v;
}


/* the string value v is s, case-insensitively */

static ngx_int_t
ngx_http_llm_gemini_in_is(ngx_http_request_t *r, ngx_http_llm_json_t *js,
    ngx_int_t v, const char *s)
{
    size_t     len;
    ngx_str_t  str;

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING
        || ngx_http_llm_json_string(r->pool, js, v, &str) != NGX_OK)
    {
        return 0;
    }

    len = ngx_strlen(s);

    return str.len == len && ngx_strncasecmp(str.data, (u_char *) s, len)
                             == 0;
}


/* "systemInstruction": a Content (its role ignored), or a string */

static ngx_int_t
ngx_http_llm_gemini_in_system(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req)
{
    ngx_int_t                rc, v, ps, p, t;
    ngx_uint_t               k, n;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *msg, m;

    v = ngx_http_llm_gemini_in_get(js, 0, "systemInstruction",
                                   "system_instruction");

    if (v < 0) {
        return NGX_OK;
    }

    ngx_memzero(&m, sizeof(ngx_http_llm_message_t));
    m.role = NGX_HTTP_LLM_ROLE_SYSTEM;

    if (ngx_array_init(&m.parts, r->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
        part = ngx_http_llm_part_add(&m, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL
            || ngx_http_llm_json_string(r->pool, js, v, &part->text)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        goto done;
    }

    ps = ngx_http_llm_json_get(js, v, "parts");

    if (ps < 0 || ngx_http_llm_json_type(js, ps) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "system_instruction.parts: must "
                                          "be a list of parts");
    }

    n = js->toks[ps].size;

    for (k = 0, p = ps + 1; k < n; k++, p = ngx_http_llm_json_skip(js, p)) {

        t = ngx_http_llm_json_get(js, p, "text");

        if (t < 0) {
            continue;
        }

        part = ngx_http_llm_part_add(&m, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_llm_json_string(r->pool, js, t, &part->text);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.system_instruction."
                                              "parts[%ui].text: must be a "
                                              "string", k);
        }
    }

    if (m.parts.nelts == 0) {
        return NGX_OK;
    }

done:

    msg = ngx_array_push(&req->messages);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    *msg = m;

    return NGX_OK;
}


/*
 * One Content.  A user content's functionResponse parts become TOOL
 * messages, first (OpenAI wants them right after the assistant's tool
 * calls), the rest of it one USER message after them.
 */

static ngx_int_t
ngx_http_llm_gemini_in_content(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, ngx_http_llm_gemini_in_t *in, ngx_int_t c,
    ngx_uint_t k)
{
    ngx_int_t                rc, v, ps, p;
    ngx_uint_t               i, n;
    ngx_http_llm_message_t   msg, *m;

    if (ngx_http_llm_json_type(js, c) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "contents[%ui]: must be an "
                                          "object", k);
    }

    ngx_memzero(&msg, sizeof(ngx_http_llm_message_t));

    v = ngx_http_llm_json_get(js, c, "role");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)
        || ngx_http_llm_gemini_in_is(r, js, v, "user")
        || ngx_http_llm_gemini_in_is(r, js, v, "function"))
    {
        msg.role = NGX_HTTP_LLM_ROLE_USER;

    } else if (ngx_http_llm_gemini_in_is(r, js, v, "model")) {
        msg.role = NGX_HTTP_LLM_ROLE_ASSISTANT;

    } else {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "contents[%ui].role: Please use "
                                          "a valid role: user, model.", k);
    }

    if (ngx_array_init(&msg.parts, r->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK
        || ngx_array_init(&msg.tool_calls, r->pool, 1,
                          sizeof(ngx_http_llm_tool_call_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ps = ngx_http_llm_json_get(js, c, "parts");

    if (ps < 0 || ngx_http_llm_json_type(js, ps) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "contents[%ui].parts: contents."
                                          "parts must not be empty.", k);
    }

    n = js->toks[ps].size;

    for (i = 0, p = ps + 1; i < n; i++, p = ngx_http_llm_json_skip(js, p)) {
        rc = ngx_http_llm_gemini_in_part(r, ctx, js, req, in, &msg, p, k, i);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (msg.parts.nelts == 0 && msg.tool_calls.nelts == 0) {
        /* function responses only, or nothing to send */
        return NGX_OK;
    }

    m = ngx_array_push(&req->messages);
    if (m == NULL) {
        return NGX_ERROR;
    }

    *m = msg;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_gemini_in_part(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req,
    ngx_http_llm_gemini_in_t *in, ngx_http_llm_message_t *msg, ngx_int_t p,
    ngx_uint_t k, ngx_uint_t n)
{
    ngx_int_t             rc, v, s;
    ngx_uint_t            thought;
    ngx_http_llm_part_t  *part;

    if (ngx_http_llm_json_type(js, p) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "contents[%ui].parts[%ui]: must "
                                          "be an object", k, n);
    }

    v = ngx_http_llm_json_get(js, p, "text");

    if (v >= 0) {
        s = ngx_http_llm_json_get(js, p, "thought");
        thought = (ngx_http_llm_json_bool(js, s) == 1);

        if (thought && msg->role != NGX_HTTP_LLM_ROLE_ASSISTANT) {
            return NGX_OK;
        }

        part = ngx_http_llm_part_add(msg, thought
                                               ? NGX_HTTP_LLM_PART_THINKING
                                               : NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_llm_json_string(r->pool, js, v, &part->text);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.contents[%ui]."
                                              "parts[%ui].text: must be a "
                                              "string", k, n);
        }

        if (thought) {
            s = ngx_http_llm_gemini_in_get(js, p, "thoughtSignature",
                                           "thought_signature");

            if (s >= 0
                && ngx_http_llm_json_string(r->pool, js, s, &part->signature)
                   == NGX_ERROR)
            {
                return NGX_ERROR;
            }

        } else if (part->text.len == 0 && msg->role
                                          == NGX_HTTP_LLM_ROLE_ASSISTANT)
        {
            /* an empty model part that held a thought signature */
            msg->parts.nelts--;
        }

        return NGX_OK;
    }

    v = ngx_http_llm_gemini_in_get(js, p, "inlineData", "inline_data");

    if (v >= 0) {
        if (msg->role == NGX_HTTP_LLM_ROLE_ASSISTANT) {
            return NGX_OK;
        }

        rc = ngx_http_llm_gemini_in_media(r, js, msg, v, 0);

        if (rc == NGX_DECLINED) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.contents[%ui]."
                                              "parts[%ui].inline_data: "
                                              "mime_type and data are "
                                              "required", k, n);
        }

        return rc;
    }

    v = ngx_http_llm_gemini_in_get(js, p, "fileData", "file_data");

    if (v >= 0) {
        if (msg->role == NGX_HTTP_LLM_ROLE_ASSISTANT) {
            return NGX_OK;
        }

        rc = ngx_http_llm_gemini_in_media(r, js, msg, v, 1);

        if (rc == NGX_DECLINED) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.contents[%ui]."
                                              "parts[%ui].file_data: "
                                              "file_uri is required", k, n);
        }

        return rc;
    }

    v = ngx_http_llm_gemini_in_get(js, p, "functionCall", "function_call");

    if (v >= 0) {
        if (msg->role != NGX_HTTP_LLM_ROLE_ASSISTANT) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.contents[%ui]."
                                              "parts[%ui]: function_call is "
                                              "only allowed in model "
                                              "contents", k, n);
        }

        return ngx_http_llm_gemini_in_call(r, ctx, js, in, msg, p, v, k, n);
    }

    v = ngx_http_llm_gemini_in_get(js, p, "functionResponse",
                                   "function_response");

    if (v >= 0) {
        if (msg->role == NGX_HTTP_LLM_ROLE_ASSISTANT) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.contents[%ui]."
                                              "parts[%ui]: function_response"
                                              " is only allowed in user "
                                              "contents", k, n);
        }

        return ngx_http_llm_gemini_in_result(r, ctx, js, req, in, v, k, n);
    }

    /* executableCode, codeExecutionResult, videoMetadata, ...: skipped */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm gemini: part %ui of content %ui skipped", n, k);

    return NGX_OK;
}


/* inlineData {mimeType, data} or fileData {mimeType, fileUri} */

static ngx_int_t
ngx_http_llm_gemini_in_media(ngx_http_request_t *r, ngx_http_llm_json_t *js,
    ngx_http_llm_message_t *msg, ngx_int_t d, ngx_uint_t file)
{
    ngx_int_t             v;
    ngx_str_t             mime, value;
    ngx_uint_t            type;
    ngx_http_llm_part_t  *part;

    ngx_str_null(&mime);

    v = ngx_http_llm_gemini_in_get(js, d, "mimeType", "mime_type");

    if (v >= 0 && ngx_http_llm_json_string(r->pool, js, v, &mime) != NGX_OK) {
        return NGX_DECLINED;
    }

    v = file ? ngx_http_llm_gemini_in_get(js, d, "fileUri", "file_uri")
             : ngx_http_llm_json_get(js, d, "data");

    if (v < 0 || ngx_http_llm_json_string(r->pool, js, v, &value) != NGX_OK
        || (!file && mime.len == 0))
    {
        return NGX_DECLINED;
    }

    if (mime.len >= 6 && ngx_memcmp(mime.data, "image/", 6) == 0) {
        type = NGX_HTTP_LLM_PART_IMAGE;

    } else if (!file && mime.len >= 6
               && ngx_memcmp(mime.data, "audio/", 6) == 0)
    {
        type = NGX_HTTP_LLM_PART_AUDIO;

    } else if (file && mime.len == 0) {
        type = NGX_HTTP_LLM_PART_IMAGE;

    } else {
        type = NGX_HTTP_LLM_PART_FILE;
    }

    part = ngx_http_llm_part_add(msg, type);
    if (part == NULL) {
        return NGX_ERROR;
    }

    part->media_type = mime;

    if (file) {
        part->url = value;

    } else {
        part->data = value;
    }

    return NGX_OK;
}


/* a functionCall part: a tool call, its id given or made ("call_N") */

static ngx_int_t
ngx_http_llm_gemini_in_call(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_gemini_in_t *in,
    ngx_http_llm_message_t *msg, ngx_int_t p, ngx_int_t fc, ngx_uint_t k,
    ngx_uint_t n)
{
    u_char                         *d;
    ngx_int_t                       v;
    ngx_http_llm_tool_call_t       *tc;
    ngx_http_llm_gemini_in_call_t  *call;

    tc = ngx_array_push(&msg->tool_calls);
    if (tc == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));

    v = ngx_http_llm_json_get(js, fc, "name");

    if (v < 0 || ngx_http_llm_json_string(r->pool, js, v, &tc->name) != NGX_OK
        || tc->name.len == 0)
    {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "contents[%ui].parts[%ui]."
                                          "function_call.name: Name cannot "
                                          "be empty.", k, n);
    }

    v = ngx_http_llm_json_get(js, fc, "args");

    if (v >= 0 && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_OBJECT) {
        ngx_http_llm_json_raw(js, v, &tc->arguments);

    } else {
        ngx_str_set(&tc->arguments, "{}");
    }

    v = ngx_http_llm_json_get(js, fc, "id");

    if (v >= 0 && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
        if (ngx_http_llm_json_string(r->pool, js, v, &tc->id) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (tc->id.len == 0) {
        d = ngx_pnalloc(r->pool, sizeof("call_") - 1 + NGX_INT_T_LEN);
        if (d == NULL) {
            return NGX_ERROR;
        }

        tc->id.data = d;
        tc->id.len = ngx_sprintf(d, "call_%ui", in->next++) - d;
    }

    v = ngx_http_llm_gemini_in_get(js, p, "thoughtSignature",
                                   "thought_signature");

    if (v >= 0
        && ngx_http_llm_json_string(r->pool, js, v, &tc->signature)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    call = ngx_array_push(&in->calls);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->id = tc->id;
    call->name = tc->name;
    call->answered = 0;

    return NGX_OK;
}


/*
 * A functionResponse part: a TOOL message.  Its "response" object is the
 * result: {"output": S} or {"content": S} with a string S is S, {"error":
 * S} is a failed call, any other object its JSON text.
 */

static ngx_int_t
ngx_http_llm_gemini_in_result(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req,
    ngx_http_llm_gemini_in_t *in, ngx_int_t fr, ngx_uint_t k, ngx_uint_t n)
{
    u_char                         *d;
    ngx_int_t                       v, o;
    ngx_str_t                       name;
    ngx_uint_t                      i;
    ngx_http_llm_part_t            *part;
    ngx_http_llm_message_t         *msg;
    ngx_http_llm_gemini_in_call_t  *call;

    msg = ngx_array_push(&req->messages);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(msg, sizeof(ngx_http_llm_message_t));
    msg->role = NGX_HTTP_LLM_ROLE_TOOL;

    if (ngx_array_init(&msg->parts, r->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(js, fr, "name");

    if (v < 0 || ngx_http_llm_json_string(r->pool, js, v, &name) != NGX_OK
        || name.len == 0)
    {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "contents[%ui].parts[%ui]."
                                          "function_response.name: Name "
                                          "cannot be empty.", k, n);
    }

    msg->name = name;

    v = ngx_http_llm_json_get(js, fr, "id");

    if (v >= 0 && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
        if (ngx_http_llm_json_string(r->pool, js, v, &msg->tool_call_id)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the first unanswered call of this name (by id when one is given) */

    call = in->calls.elts;

    for (i = 0; i < in->calls.nelts; i++) {

        if (call[i].answered) {
            continue;
        }

        if (msg->tool_call_id.len
            ? (call[i].id.len == msg->tool_call_id.len
               && ngx_memcmp(call[i].id.data, msg->tool_call_id.data,
                              call[i].id.len) == 0)
            : (call[i].name.len == name.len
               && ngx_memcmp(call[i].name.data, name.data, name.len) == 0))
        {
            call[i].answered = 1;
            msg->tool_call_id = call[i].id;
            break;
        }
    }

    if (msg->tool_call_id.len == 0) {
        d = ngx_pnalloc(r->pool, sizeof("call_") - 1 + NGX_INT_T_LEN);
        if (d == NULL) {
            return NGX_ERROR;
        }

        msg->tool_call_id.data = d;
        msg->tool_call_id.len = ngx_sprintf(d, "call_%ui", in->next++) - d;
    }

    part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
    if (part == NULL) {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(js, fr, "response");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_OBJECT
        && js->toks[v].size == 1)
    {
        o = ngx_http_llm_json_get(js, v, "error");

        if (o >= 0) {
            msg->is_error = 1;

        } else {
            o = ngx_http_llm_json_get(js, v, "output");

            if (o < 0) {
                o = ngx_http_llm_json_get(js, v, "content");
            }
        }

        if (o >= 0
            && ngx_http_llm_json_type(js, o) == NGX_HTTP_LLM_JSON_STRING)
        {
            return ngx_http_llm_json_string(r->pool, js, o, &part->text)
                   == NGX_OK ? NGX_OK : NGX_ERROR;
        }

        if (o >= 0) {
            ngx_http_llm_json_raw(js, o, &part->text);
            return NGX_OK;
        }
    }

    ngx_http_llm_json_raw(js, v, &part->text);

    return NGX_OK;
}


/* tools[].functionDeclarations; server tools (googleSearch, ...) skipped */

static ngx_int_t
ngx_http_llm_gemini_in_tools(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_http_llm_request_t *req)
{
    ngx_int_t             rc, v, t, fd, d, s;
    ngx_uint_t            k, n, i, nd;
    ngx_http_llm_tool_t  *tool;

    v = ngx_http_llm_json_get(js, 0, "tools");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "tools: must be a list");
    }

    n = js->toks[v].size;

    for (k = 0, t = v + 1; k < n; k++, t = ngx_http_llm_json_skip(js, t)) {

        fd = ngx_http_llm_gemini_in_get(js, t, "functionDeclarations",
                                        "function_declarations");

        if (fd < 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm: Gemini server tool %ui is not passed to "
                          "the provider", k);
            continue;
        }

        if (ngx_http_llm_json_type(js, fd) != NGX_HTTP_LLM_JSON_ARRAY) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.tools[%ui].function_"
                                              "declarations: must be a "
                                              "list", k);
        }

        nd = js->toks[fd].size;

        for (i = 0, d = fd + 1; i < nd; i++, d = ngx_http_llm_json_skip(js, d))
        {
            tool = ngx_array_push(&req->tools);
            if (tool == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(tool, sizeof(ngx_http_llm_tool_t));

            s = ngx_http_llm_json_get(js, d, "name");
            rc = (s < 0) ? NGX_DECLINED
                 : ngx_http_llm_json_string(r->pool, js, s, &tool->name);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK || tool->name.len == 0) {
                return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                                  "Request.tools[%ui]."
                                                  "function_declarations"
                                                  "[%ui].name: Name cannot "
                                                  "be empty.", k, i);
            }

            s = ngx_http_llm_gemini_in_get(js, d, "description", NULL);

            if (s >= 0
                && ngx_http_llm_json_string(r->pool, js, s,
                                            &tool->description)
                   != NGX_OK)
            {
                return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                                  "Request.tools[%ui]."
                                                  "function_declarations"
                                                  "[%ui].description: must "
                                                  "be a string", k, i);
            }

            s = ngx_http_llm_gemini_in_get(js, d, "parametersJsonSchema",
                                           "parameters_json_schema");

            if (s >= 0) {
                ngx_http_llm_json_raw(js, s, &tool->parameters);
                continue;
            }

            s = ngx_http_llm_gemini_in_get(js, d, "parameters", NULL);

            if (s >= 0
                && ngx_http_llm_gemini_in_schema(r, js, s, &tool->parameters)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * An OpenAPI Schema as JSON Schema: Gemini's types are upper case
 * ("OBJECT", "STRING"), JSON Schema's lower case; the rest is common.
 */

static ngx_int_t
ngx_http_llm_gemini_in_schema(ngx_http_request_t *r, ngx_http_llm_json_t *js,
    ngx_int_t v, ngx_str_t *out)
{
    u_char     *p;
    ngx_int_t   i, last, start;

    ngx_http_llm_json_raw(js, v, out);

    p = ngx_pnalloc(r->pool, out->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, out->data, out->len);

    start = js->toks[v].start;
    last = ngx_http_llm_json_skip(js, v);

    for (i = v + 1; i + 1 < last; i++) {

        /* a key (a string with one child) "type" with a string value */

        if (js->toks[i].type != NGX_HTTP_LLM_JSON_STRING
            || js->toks[i].size != 1
            || js->toks[i].end - js->toks[i].start != 4
            || ngx_memcmp(js->data + js->toks[i].start, "type", 4) != 0
            || js->toks[i + 1].type != NGX_HTTP_LLM_JSON_STRING)
        {
            continue;
        }

        ngx_strlow(p + js->toks[i + 1].start - start,
                   p + js->toks[i + 1].start - start,
                   js->toks[i + 1].end - js->toks[i + 1].start);
    }

    out->data = p;

    return NGX_OK;
}


/* toolConfig.functionCallingConfig {mode, allowedFunctionNames} */

static ngx_int_t
ngx_http_llm_gemini_in_tool_config(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t  v, m, a;

    v = ngx_http_llm_gemini_in_get(js, 0, "toolConfig", "tool_config");
    v = ngx_http_llm_gemini_in_get(js, v, "functionCallingConfig",
                                   "function_calling_config");

    if (v < 0) {
        return NGX_OK;
    }

    m = ngx_http_llm_json_get(js, v, "mode");

    if (m < 0 || ngx_http_llm_json_is_null(js, m)
        || ngx_http_llm_gemini_in_is(r, js, m, "MODE_UNSPECIFIED"))
    {
        return NGX_OK;
    }

    if (ngx_http_llm_gemini_in_is(r, js, m, "AUTO")
        || ngx_http_llm_gemini_in_is(r, js, m, "VALIDATED"))
    {
        req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_AUTO;

    } else if (ngx_http_llm_gemini_in_is(r, js, m, "NONE")) {
        req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NONE;

    } else if (ngx_http_llm_gemini_in_is(r, js, m, "ANY")) {
        req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_ANY;

        a = ngx_http_llm_gemini_in_get(js, v, "allowedFunctionNames",
                                       "allowed_function_names");

        /* one allowed function: that one; several: any of all */

        if (a >= 0 && ngx_http_llm_json_type(js, a) == NGX_HTTP_LLM_JSON_ARRAY
            && js->toks[a].size == 1)
        {
            if (ngx_http_llm_json_string(r->pool, js, a + 1,
                                         &req->tool_choice_name)
                != NGX_OK)
            {
                return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                                  "Request.tool_config."
                                                  "function_calling_config."
                                                  "allowed_function_names: "
                                                  "must be strings");
            }

            req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NAMED;
        }

    } else {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "tool_config.function_calling_"
                                          "config.mode: must be AUTO, ANY "
                                          "or NONE");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_gemini_in_generation(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    ngx_int_t   rc, g, v, s, budget;
    ngx_str_t  *stop;
    ngx_uint_t  k, n;

    g = ngx_http_llm_gemini_in_get(js, 0, "generationConfig",
                                   "generation_config");

    if (g < 0) {
        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, g) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "generation_config: must be an "
                                          "object");
    }

    v = ngx_http_llm_gemini_in_get(js, g, "maxOutputTokens",
                                   "max_output_tokens");

    if (v >= 0 && ngx_http_llm_json_int(js, v, &req->max_tokens) != NGX_OK) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "generation_config.max_output_"
                                          "tokens: must be an integer");
    }

    v = ngx_http_llm_gemini_in_get(js, g, "candidateCount",
                                   "candidate_count");

    if (v >= 0 && ngx_http_llm_json_int(js, v, &req->n) != NGX_OK) {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "generation_config.candidate_"
                                          "count: must be an integer");
    }

    if (ngx_http_llm_gemini_in_number(r, ctx, js, g, "temperature", NULL,
                                      &req->temperature)
        != NGX_OK
        || ngx_http_llm_gemini_in_number(r, ctx, js, g, "topP", "top_p",
                                         &req->top_p)
           != NGX_OK
        || ngx_http_llm_gemini_in_number(r, ctx, js, g, "topK", "top_k",
                                         &req->top_k)
           != NGX_OK
        || ngx_http_llm_gemini_in_number(r, ctx, js, g, "seed", NULL,
                                         &req->seed)
           != NGX_OK
        || ngx_http_llm_gemini_in_number(r, ctx, js, g, "presencePenalty",
                                         "presence_penalty",
                                         &req->presence_penalty)
           != NGX_OK
        || ngx_http_llm_gemini_in_number(r, ctx, js, g, "frequencyPenalty",
                                         "frequency_penalty",
                                         &req->frequency_penalty)
           != NGX_OK)
    {
        return ctx->error ? NGX_DECLINED : NGX_ERROR;
    }

    v = ngx_http_llm_gemini_in_get(js, g, "stopSequences", "stop_sequences");

    if (v >= 0) {

        if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.generation_config."
                                              "stop_sequences: must be a "
                                              "list");
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
                return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                                  "Request.generation_config"
                                                  ".stop_sequences[%ui]: "
                                                  "must be a string", k);
            }
        }
    }

    /* structured output */

    v = ngx_http_llm_gemini_in_get(js, g, "responseMimeType",
                                   "response_mime_type");

    if (ngx_http_llm_gemini_in_is(r, js, v, "application/json")) {
        req->format = NGX_HTTP_LLM_FORMAT_JSON;
    }

    v = ngx_http_llm_gemini_in_get(js, g, "responseJsonSchema",
                                   "response_json_schema");

    if (v >= 0) {
        req->format = NGX_HTTP_LLM_FORMAT_SCHEMA;
        ngx_http_llm_json_raw(js, v, &req->schema);

    } else {
        v = ngx_http_llm_gemini_in_get(js, g, "responseSchema",
                                       "response_schema");

        if (v >= 0) {
            req->format = NGX_HTTP_LLM_FORMAT_SCHEMA;

            if (ngx_http_llm_gemini_in_schema(r, js, v, &req->schema)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (req->format == NGX_HTTP_LLM_FORMAT_SCHEMA) {
        ngx_str_set(&req->schema_name, "response");
    }

    /*
     * thinkingConfig: a budget (0 is off, -1 dynamic: the provider's
     * default), or a level (Gemini 3) as an effort
     */

    v = ngx_http_llm_gemini_in_get(js, g, "thinkingConfig",
                                   "thinking_config");

    if (v < 0) {
        return NGX_OK;
    }

    s = ngx_http_llm_gemini_in_get(js, v, "thinkingBudget", "thinking_budget");

    if (s >= 0) {
        if (ngx_http_llm_json_int(js, s, &budget) != NGX_OK) {
            return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContent"
                                              "Request.generation_config."
                                              "thinking_config.thinking_"
                                              "budget: must be an integer");
        }

        if (budget > 0) {
            req->thinking_budget = budget;

            if (budget <= 1024) {
                ngx_str_set(&req->reasoning_effort, "low");

            } else if (budget <= 8192) {
                ngx_str_set(&req->reasoning_effort, "medium");

            } else {
                ngx_str_set(&req->reasoning_effort, "high");
            }
        }

        return NGX_OK;
    }

    s = ngx_http_llm_gemini_in_get(js, v, "thinkingLevel", "thinking_level");

    if (s >= 0) {
        if (ngx_http_llm_gemini_in_is(r, js, s, "low")) {
            ngx_str_set(&req->reasoning_effort, "low");

        } else if (ngx_http_llm_gemini_in_is(r, js, s, "medium")) {
            ngx_str_set(&req->reasoning_effort, "medium");

        } else if (ngx_http_llm_gemini_in_is(r, js, s, "high")) {
            ngx_str_set(&req->reasoning_effort, "high");
        }
    }

    return NGX_OK;
}


/* a number of generationConfig, copied as its raw JSON text */

static ngx_int_t
ngx_http_llm_gemini_in_number(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_int_t g, const char *camel,
    const char *snake, ngx_str_t *out)
{
    u_char     c;
    ngx_int_t  v;

    v = ngx_http_llm_gemini_in_get(js, g, camel, snake);

    if (v < 0) {
        return NGX_OK;
    }

    c = js->data[js->toks[v].start];

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_PRIMITIVE
        || !(c == '-' || (c >= '0' && c <= '9')))
    {
        return ngx_http_llm_gemini_in_bad(r, ctx, "* GenerateContentRequest."
                                          "generation_config.%s: must be a "
                                          "number", snake ? snake : camel);
    }

    ngx_http_llm_json_raw(js, v, out);

    return NGX_OK;
}



/* -- the response --------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_gemini_in_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out)
{
    ngx_str_t                  id, text;
    ngx_uint_t                 i, finish;
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

    if (id.len == 0 && ngx_http_llm_gemini_in_make_id(r->pool, &id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_llm_jw_lit(&jw, "{\"candidates\":[{\"content\":{\"parts\":[");

    /* thought summaries first, as Gemini's models answer */

    part = resp->thinking.elts;

    for (i = 0; i < resp->thinking.nelts; i++) {

        if (part[i].type != NGX_HTTP_LLM_PART_THINKING) {
            continue;
        }

        if (jw.pos[-1] != '[') {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        ngx_http_llm_jw_lit(&jw, "{\"text\":");
        ngx_http_llm_jw_string(&jw, &part[i].text);
        ngx_http_llm_jw_lit(&jw, ",\"thought\":true");

        if (part[i].signature.len) {
            ngx_http_llm_jw_lit(&jw, ",\"thoughtSignature\":");
            ngx_http_llm_jw_string(&jw, &part[i].signature);
        }

        ngx_http_llm_jw_lit(&jw, "}");
    }

    if (resp->thinking.nelts == 0 && resp->reasoning.len) {
        ngx_http_llm_jw_lit(&jw, "{\"text\":");
        ngx_http_llm_jw_string(&jw, &resp->reasoning);
        ngx_http_llm_jw_lit(&jw, ",\"thought\":true}");
    }

    finish = resp->finish;
    text = resp->text;

    if (text.len == 0 && resp->refusal.len) {
        /* an OpenAI refusal: its text is all the client gets */

        text = resp->refusal;

        if (finish == NGX_HTTP_LLM_FINISH_STOP
            || finish == NGX_HTTP_LLM_FINISH_NONE)
        {
            finish = NGX_HTTP_LLM_FINISH_FILTER;
        }
    }

    if (text.len) {
        if (jw.pos[-1] != '[') {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        ngx_http_llm_jw_lit(&jw, "{\"text\":");
        ngx_http_llm_jw_string(&jw, &text);
        ngx_http_llm_jw_lit(&jw, "}");
    }

    tc = resp->tool_calls.elts;

    for (i = 0; i < resp->tool_calls.nelts; i++) {

        if (jw.pos[-1] != '[') {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        ngx_http_llm_gemini_in_fcall(r, &jw, &tc[i].id, &tc[i].name,
                                     &tc[i].arguments, &tc[i].signature);
    }

    ngx_http_llm_jw_lit(&jw, "],\"role\":\"model\"},");
    ngx_http_llm_gemini_in_tail(&jw, ctx, &id, finish, 1);

    *out = ngx_http_llm_jw_chain(&jw);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The end of a GenerateContentResponse after the content:
 * "finishReason", "index", then usageMetadata, modelVersion, responseId
 */

static void
ngx_http_llm_gemini_in_tail(ngx_http_llm_jw_t *jw, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *id, ngx_uint_t finish, ngx_uint_t usage)
{
    ngx_int_t              thoughts;
    ngx_http_llm_usage_t  *u;

    if (finish != (ngx_uint_t) -1) {
        if (finish > NGX_HTTP_LLM_FINISH_FILTER) {
            finish = NGX_HTTP_LLM_FINISH_STOP;
        }

        ngx_http_llm_jw_lit(jw, "\"finishReason\":");
        ngx_http_llm_jw_string(jw, &ngx_http_llm_gemini_in_finish[finish]);
        ngx_http_llm_jw_lit(jw, ",");
    }

    ngx_http_llm_jw_lit(jw, "\"index\":0}]");

    if (usage) {
        u = &ctx->usage;

        ngx_http_llm_jw_lit(jw, ",\"usageMetadata\":{\"promptTokenCount\":");
        ngx_http_llm_jw_int(jw, u->prompt);
        ngx_http_llm_jw_lit(jw, ",\"candidatesTokenCount\":");
        ngx_http_llm_jw_int(jw, u->completion);
        ngx_http_llm_jw_lit(jw, ",\"totalTokenCount\":");
        ngx_http_llm_jw_int(jw, u->total ? u->total
                                : u->prompt + u->completion);

        /* what the total counts beyond prompt and answer: thoughts */

        thoughts = u->total - u->prompt - u->completion;

        if (thoughts > 0) {
            ngx_http_llm_jw_lit(jw, ",\"thoughtsTokenCount\":");
            ngx_http_llm_jw_int(jw, thoughts);
        }

        if (u->cached) {
            ngx_http_llm_jw_lit(jw, ",\"cachedContentTokenCount\":");
            ngx_http_llm_jw_int(jw, u->cached);
        }

        ngx_http_llm_jw_lit(jw, "}");
    }

    ngx_http_llm_jw_lit(jw, ",\"modelVersion\":");
    ngx_http_llm_jw_string(jw, &ctx->model);
    ngx_http_llm_jw_lit(jw, ",\"responseId\":");
    ngx_http_llm_jw_string(jw, id);
    ngx_http_llm_jw_lit(jw, "}");
}


/* {"functionCall":{"id","name","args"},"thoughtSignature"} */

static void
ngx_http_llm_gemini_in_fcall(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_str_t *id, ngx_str_t *name, ngx_str_t *args, ngx_str_t *signature)
{
    ngx_http_llm_jw_lit(jw, "{\"functionCall\":{");

    if (id->len) {
        ngx_http_llm_jw_lit(jw, "\"id\":");
        ngx_http_llm_jw_string(jw, id);
        ngx_http_llm_jw_lit(jw, ",");
    }

    ngx_http_llm_jw_lit(jw, "\"name\":");
    ngx_http_llm_jw_string(jw, name);
    ngx_http_llm_jw_lit(jw, ",\"args\":");
    ngx_http_llm_jw_args(jw, r->connection->log, args);
    ngx_http_llm_jw_lit(jw, "}");

    if (signature && signature->len) {
        ngx_http_llm_jw_lit(jw, ",\"thoughtSignature\":");
        ngx_http_llm_jw_string(jw, signature);
    }

    ngx_http_llm_jw_lit(jw, "}");
}


/* 24 random base62 characters, as Gemini's responseId */

static ngx_int_t
ngx_http_llm_gemini_in_make_id(ngx_pool_t *pool, ngx_str_t *id)
{
    u_char      *p;
    ngx_uint_t   i;

    static u_char  chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz";

    p = ngx_pnalloc(pool, NGX_HTTP_LLM_GEMINI_IN_ID_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    id->data = p;
    id->len = NGX_HTTP_LLM_GEMINI_IN_ID_LEN;

    for (i = 0; i < NGX_HTTP_LLM_GEMINI_IN_ID_LEN; i++) {
        *p++ = chars[(ngx_uint_t) ngx_random() % (sizeof(chars) - 1)];
    }

    return NGX_OK;
}


/* -- the stream ----------------------------------------------------------- */


/*
 * Canonical deltas as "alt=sse" events: each text or thought delta one
 * GenerateContentResponse with that part; tool calls are held until the
 * end (Gemini sends each call whole, its args complete), then sent with
 * finishReason and usageMetadata in the last event, after the finish
 * and the usage (or at the end of the stream).
 */

static ngx_int_t
ngx_http_llm_gemini_in_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    ngx_uint_t                       i;
    ngx_http_llm_gemini_out_t       *st;
    ngx_http_llm_gemini_out_call_t  *call;

    st = ctx->out_state;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_gemini_out_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        if (ngx_array_init(&st->calls, r->pool, 2,
                           sizeof(ngx_http_llm_gemini_out_call_t))
            != NGX_OK
            || ngx_http_llm_jw_init(&st->jw, r->pool, 1024) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->out_state = st;
    }

    if (st->stopped) {
        return NGX_OK;
    }

    switch (delta->type) {

    case NGX_HTTP_LLM_DELTA_ERROR:
        st->stopped = 1;
        return ngx_http_llm_gemini_in_stream_error(r, delta, ll);

    case NGX_HTTP_LLM_DELTA_START:

        if (delta->id.len && st->id.len == 0) {
            st->id.data = ngx_pstrdup(r->pool, &delta->id);
            if (st->id.data == NULL) {
                return NGX_ERROR;
            }

            st->id.len = delta->id.len;
        }

        return NGX_OK;

    case NGX_HTTP_LLM_DELTA_TEXT:
    case NGX_HTTP_LLM_DELTA_REASONING:
    case NGX_HTTP_LLM_DELTA_SIGNATURE:

        if (delta->text.len == 0 || st->finished) {
            return NGX_OK;
        }

        return ngx_http_llm_gemini_in_chunk(r, ctx, st, delta, 0, ll);

    case NGX_HTTP_LLM_DELTA_TOOL_START:
    case NGX_HTTP_LLM_DELTA_TOOL_ARGS:

        if (st->finished) {
            return NGX_OK;
        }

        while (st->calls.nelts <= delta->index) {
            call = ngx_array_push(&st->calls);
            if (call == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(call, sizeof(ngx_http_llm_gemini_out_call_t));
        }

        call = st->calls.elts;
        call = &call[delta->index];

        if (!call->used) {
            call->used = 1;

            if (ngx_http_llm_jw_init(&call->args, r->pool, 64) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (delta->type == NGX_HTTP_LLM_DELTA_TOOL_ARGS) {
            ngx_http_llm_jw_raw(&call->args, delta->text.data,
                                delta->text.len);
            return call->args.failed ? NGX_ERROR : NGX_OK;
        }

        /* the id and name: kept until the end of the stream */

        if (delta->id.len) {
            call->id.data = ngx_pstrdup(r->pool, &delta->id);
            if (call->id.data == NULL) {
                return NGX_ERROR;
            }

            call->id.len = delta->id.len;
        }

        if (delta->name.len) {
            call->name.data = ngx_pstrdup(r->pool, &delta->name);
            if (call->name.data == NULL) {
                return NGX_ERROR;
            }

            call->name.len = delta->name.len;
        }

        return NGX_OK;

    case NGX_HTTP_LLM_DELTA_FINISH:

        if (!st->finished || delta->finish != NGX_HTTP_LLM_FINISH_NONE) {
            st->finish = delta->finish;
        }

        st->finished = 1;

        if (!st->usage) {
            /* wait for the usage: it comes in the next chunk (OpenAI) */
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLM_DELTA_USAGE:

        st->usage = 1;

        if (!st->finished) {
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLM_DELTA_DONE:
        break;

    default:
        return NGX_OK;
    }

    /* the last event */

    st->stopped = 1;

    for (i = 0; i < st->calls.nelts; i++) {
        call = st->calls.elts;

        if (call[i].used && call[i].args.failed) {
            return NGX_ERROR;
        }
    }

    return ngx_http_llm_gemini_in_chunk(r, ctx, st, NULL, 1, ll);
}


/* one GenerateContentResponse chunk: a delta's part, or the last one */

static ngx_int_t
ngx_http_llm_gemini_in_chunk(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_gemini_out_t *st, ngx_http_llm_delta_t *delta,
    ngx_uint_t last, ngx_chain_t ***ll)
{
    ngx_str_t                        args;
    ngx_uint_t                       i, n;
    ngx_http_llm_jw_t               *jw;
    ngx_http_llm_gemini_out_call_t  *call;

    if (st->id.len == 0
        && ngx_http_llm_gemini_in_make_id(r->pool, &st->id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    jw = &st->jw;
    jw->pos = jw->start;

    ngx_http_llm_jw_lit(jw, "{\"candidates\":[{\"content\":{\"parts\":[");

    if (!last) {
        switch (delta->type) {

        case NGX_HTTP_LLM_DELTA_TEXT:
            ngx_http_llm_jw_lit(jw, "{\"text\":");
            ngx_http_llm_jw_string(jw, &delta->text);
            ngx_http_llm_jw_lit(jw, "}");
            break;

        case NGX_HTTP_LLM_DELTA_REASONING:
            ngx_http_llm_jw_lit(jw, "{\"text\":");
            ngx_http_llm_jw_string(jw, &delta->text);
            ngx_http_llm_jw_lit(jw, ",\"thought\":true}");
            break;

        default: /* NGX_HTTP_LLM_DELTA_SIGNATURE */
            ngx_http_llm_jw_lit(jw, "{\"text\":\"\",\"thought\":true,"
                                    "\"thoughtSignature\":");
            ngx_http_llm_jw_string(jw, &delta->text);
            ngx_http_llm_jw_lit(jw, "}");
            break;
        }

        ngx_http_llm_jw_lit(jw, "],\"role\":\"model\"},");
        ngx_http_llm_gemini_in_tail(jw, ctx, &st->id, (ngx_uint_t) -1, 0);

        return ngx_http_llm_gemini_in_event(r, jw, ll);
    }

    call = st->calls.elts;
    n = 0;

    for (i = 0; i < st->calls.nelts; i++) {

        if (!call[i].used) {
            continue;
        }

        if (n++) {
            ngx_http_llm_jw_lit(jw, ",");
        }

        args.data = call[i].args.start;
        args.len = call[i].args.pos - call[i].args.start;

        ngx_http_llm_gemini_in_fcall(r, jw, &call[i].id, &call[i].name,
                                     &args, NULL);
    }

    if (n == 0) {
        ngx_http_llm_jw_lit(jw, "{\"text\":\"\"}");
    }

    ngx_http_llm_jw_lit(jw, "],\"role\":\"model\"},");
    ngx_http_llm_gemini_in_tail(jw, ctx, &st->id, st->finish, 1);

    return ngx_http_llm_gemini_in_event(r, jw, ll);
}


/* "data: <json>\r\n\r\n" in a recycled buffer, as Gemini writes them */

static ngx_int_t
ngx_http_llm_gemini_in_event(ngx_http_request_t *r, ngx_http_llm_jw_t *jw,
    ngx_chain_t ***ll)
{
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (jw->failed) {
        return NGX_ERROR;
    }

    len = jw->pos - jw->start;

    cl = ngx_http_llm_get_buf(r, sizeof("data: " CRLF CRLF) - 1 + len);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    b->last = ngx_cpymem(b->last, "data: ", sizeof("data: ") - 1);
    b->last = ngx_cpymem(b->last, jw->start, len);
    b->last = ngx_cpymem(b->last, CRLF CRLF, sizeof(CRLF CRLF) - 1);

    b->flush = 1;

    **ll = cl;
    *ll = &cl->next;

    return NGX_OK;
}


/* an error in the stream: one last event with the google.rpc.Status */

static ngx_int_t
ngx_http_llm_gemini_in_stream_error(ngx_http_request_t *r,
    ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    ngx_str_t          *t, message;
    ngx_uint_t          status;
    ngx_http_llm_jw_t   jw;

    status = delta->status;
    t = &delta->error_type;

    if (status == 0) {

#define ngx_http_llm_type_is(s)                                               \
        (t->len == sizeof(s) - 1 && ngx_memcmp(t->data, s, t->len) == 0)

        if (ngx_http_llm_type_is("invalid_request_error")) {
            status = NGX_HTTP_BAD_REQUEST;

        } else if (ngx_http_llm_type_is("authentication_error")) {
            status = NGX_HTTP_UNAUTHORIZED;

        } else if (ngx_http_llm_type_is("permission_error")) {
            status = NGX_HTTP_FORBIDDEN;

        } else if (ngx_http_llm_type_is("not_found_error")) {
            status = NGX_HTTP_NOT_FOUND;

        } else if (ngx_http_llm_type_is("rate_limit_error")) {
            status = NGX_HTTP_TOO_MANY_REQUESTS;

        } else if (ngx_http_llm_type_is("overloaded_error")) {
            status = NGX_HTTP_SERVICE_UNAVAILABLE;

        } else if (ngx_http_llm_type_is("timeout_error")) {
            status = NGX_HTTP_GATEWAY_TIME_OUT;

        } else {
            status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

#undef ngx_http_llm_type_is
    }

    message = delta->error_message;

    if (message.len == 0) {
        ngx_str_set(&message, "The model provider returned an error.");
    }

    if (ngx_http_llm_jw_init(&jw, r->pool, 128 + message.len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_llm_gemini_in_error_body(&jw, status, &message);

    return ngx_http_llm_gemini_in_event(r, &jw, ll);
}


/* -- errors --------------------------------------------------------------- */


/* {"error":{"code":N,"message":M,"status":S}}, S by the HTTP status */

static ngx_chain_t *
ngx_http_llm_gemini_in_write_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *message)
{
    ngx_chain_t        *cl;
    ngx_http_llm_jw_t   jw;

    if (ngx_http_llm_jw_init(&jw, r->pool, 128 + message->len) != NGX_OK) {
        return NULL;
    }

    ngx_http_llm_gemini_in_error_body(&jw, status, message);
    ngx_http_llm_jw_lit(&jw, "\n");

    cl = ngx_http_llm_jw_chain(&jw);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf->last_buf = (r == r->main) ? 1 : 0;
    cl->buf->last_in_chain = 1;

    return cl;
}


/* google.rpc.Code names by HTTP status (PROVIDERS.md 3.5) */

static void
ngx_http_llm_gemini_in_error_body(ngx_http_llm_jw_t *jw, ngx_uint_t status,
    ngx_str_t *message)
{
    const char  *s;

    switch (status) {
    case NGX_HTTP_UNAUTHORIZED:
        s = "UNAUTHENTICATED";
        break;
    case NGX_HTTP_FORBIDDEN:
        s = "PERMISSION_DENIED";
        break;
    case NGX_HTTP_NOT_FOUND:
        s = "NOT_FOUND";
        break;
    case NGX_HTTP_TOO_MANY_REQUESTS:
    case 402:
        s = "RESOURCE_EXHAUSTED";
        break;
    case NGX_HTTP_NOT_IMPLEMENTED:
        s = "UNIMPLEMENTED";
        break;
    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case 529:
        s = "UNAVAILABLE";
        break;
    case NGX_HTTP_GATEWAY_TIME_OUT:
        s = "DEADLINE_EXCEEDED";
        break;
    default:
        s = (status >= 500) ? "INTERNAL" : "INVALID_ARGUMENT";
    }

    ngx_http_llm_jw_lit(jw, "{\"error\":{\"code\":");
    ngx_http_llm_jw_int(jw, status);
    ngx_http_llm_jw_lit(jw, ",\"message\":");
    ngx_http_llm_jw_str(jw, message->data, message->len);
    ngx_http_llm_jw_lit(jw, ",\"status\":\"");
    ngx_http_llm_jw_raw(jw, (u_char *) s, ngx_strlen(s));
    ngx_http_llm_jw_lit(jw, "\"}}");
}
