
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
 * The OpenAI Chat Completions surface: parses a chat request into the
 * canonical request, writes canonical responses, stream deltas (as
 * chat.completion.chunk events) and errors in OpenAI's format.  Used
 * when the client speaks OpenAI and the provider does not (OpenAI
 * clients of OpenAI-format providers take the passthrough path).
 */


/* content parts allowed in a message, by role */
#define NGX_HTTP_LLM_OPENAI_ALLOW_TEXT     0x01
#define NGX_HTTP_LLM_OPENAI_ALLOW_MEDIA    0x02
#define NGX_HTTP_LLM_OPENAI_ALLOW_REFUSAL  0x04


typedef struct {
    ngx_pool_t                 *pool;
    ngx_http_llm_json_t        *js;
    ngx_http_llm_request_t     *req;
    const char                 *error;
    ngx_uint_t                  index;      /* of the message parsed */
    ngx_uint_t                  in_msg;
    ngx_str_t                   fn_id;      /* last "function_call" */
    ngx_uint_t                  fn_n;
} ngx_http_llm_openai_ps_t;


/* stream writer state, ctx->out_state */

typedef struct {
    ngx_str_t                   prefix;     /* "data: {...,"choices":[" */
    unsigned                    role_sent:1;
    unsigned                    finish_sent:1;
    unsigned                    usage:1;    /* the provider's is final */
    unsigned                    closed:1;   /* [DONE] or error sent */
} ngx_http_llm_openai_out_t;


static ngx_int_t ngx_http_llm_openai_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_openai_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out);
static ngx_int_t ngx_http_llm_openai_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta,
    ngx_chain_t ***ll);
static ngx_chain_t *ngx_http_llm_openai_write_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code,
    ngx_str_t *message);

static ngx_int_t ngx_http_llm_openai_invalid(ngx_http_llm_openai_ps_t *ps,
    const char *fmt, ...);
static ngx_int_t ngx_http_llm_openai_message(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t m);
static ngx_int_t ngx_http_llm_openai_content(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, ngx_http_llm_message_t *msg, ngx_uint_t allow);
static ngx_int_t ngx_http_llm_openai_part(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, ngx_uint_t n, ngx_http_llm_message_t *msg,
    ngx_uint_t allow);
static ngx_int_t ngx_http_llm_openai_thinking(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, ngx_http_llm_message_t *msg);
static ngx_int_t ngx_http_llm_openai_data_uri(ngx_str_t *uri,
    ngx_str_t *media_type, ngx_str_t *data);
static ngx_int_t ngx_http_llm_openai_tool_calls(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, ngx_http_llm_message_t *msg);
static ngx_int_t ngx_http_llm_openai_tool_call(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t f, ngx_str_t *id, ngx_http_llm_message_t *msg);
static ngx_int_t ngx_http_llm_openai_tools(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, const char *key);
static ngx_int_t ngx_http_llm_openai_tool_choice(
    ngx_http_llm_openai_ps_t *ps, ngx_int_t v, const char *key);
static ngx_int_t ngx_http_llm_openai_response_format(
    ngx_http_llm_openai_ps_t *ps, ngx_int_t v);
static ngx_int_t ngx_http_llm_openai_options(ngx_http_llm_openai_ps_t *ps);
static ngx_int_t ngx_http_llm_openai_string(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, const char *key, ngx_str_t *out);
static ngx_int_t ngx_http_llm_openai_number(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, const char *key, ngx_str_t *out);
static ngx_int_t ngx_http_llm_openai_int(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, const char *key, ngx_int_t *out);
static ngx_int_t ngx_http_llm_openai_bool(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v, const char *key, ngx_int_t *out);

static ngx_int_t ngx_http_llm_openai_chunk(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_openai_out_t *st,
    ngx_http_llm_delta_t *d, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_openai_out_init(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *d);
static void ngx_http_llm_openai_jw_usage(ngx_http_llm_jw_t *jw,
    ngx_http_llm_usage_t *u);


typedef struct {
    const char                 *key;
    size_t                      offset;
} ngx_http_llm_openai_number_t;


static ngx_http_llm_openai_number_t  ngx_http_llm_openai_numbers[] = {
    { "temperature", offsetof(ngx_http_llm_request_t, temperature) },
    { "top_p", offsetof(ngx_http_llm_request_t, top_p) },
    { "top_k", offsetof(ngx_http_llm_request_t, top_k) },
    { "seed", offsetof(ngx_http_llm_request_t, seed) },
    { "presence_penalty",
      offsetof(ngx_http_llm_request_t, presence_penalty) },
    { "frequency_penalty",
      offsetof(ngx_http_llm_request_t, frequency_penalty) },
    { NULL, 0 }
};


const ngx_http_llm_surface_t  ngx_http_llm_surface_openai = {
    ngx_string("openai"),
    ngx_http_llm_openai_parse_request,
    ngx_http_llm_openai_write_response,
    ngx_http_llm_openai_write_delta,
    ngx_http_llm_openai_write_error
};


/* request ----------------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_openai_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    return ngx_http_llm_openai_parse(r->pool, js, req, &ctx->error);
}


ngx_int_t
ngx_http_llm_openai_parse(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req, const char **error)
{
    ngx_int_t                 rc, v, m, i;
    ngx_http_llm_openai_ps_t  ps;

    ngx_memzero(&ps, sizeof(ngx_http_llm_openai_ps_t));

    ps.pool = pool;
    ps.js = js;
    ps.req = req;

    if (js->ntoks == 0
        || ngx_http_llm_json_type(js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        *error = "The request body must be a JSON object.";
        return NGX_DECLINED;
    }

    v = ngx_http_llm_json_get(js, 0, "model");

    rc = ngx_http_llm_openai_string(&ps, v, "model", &req->model);
    if (rc != NGX_OK) {
        goto failed;
    }

    v = ngx_http_llm_json_get(js, 0, "messages");

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
        *error = "Missing required parameter: 'messages' (an array).";
        return NGX_DECLINED;
    }

    for (i = 0; ; i++) {
        m = ngx_http_llm_json_index(js, v, i);
        if (m < 0) {
            break;
        }

        ps.index = i;
        ps.in_msg = 1;

        rc = ngx_http_llm_openai_message(&ps, m);
        if (rc != NGX_OK) {
            goto failed;
        }

        ps.in_msg = 0;
    }

    rc = ngx_http_llm_openai_options(&ps);
    if (rc != NGX_OK) {
        goto failed;
    }

    return NGX_OK;

failed:

    if (rc == NGX_DECLINED) {
        *error = ps.error;
    }

    return rc;
}


static ngx_int_t
ngx_http_llm_openai_invalid(ngx_http_llm_openai_ps_t *ps, const char *fmt,
    ...)
{
    ngx_int_t  rc;
    va_list    args;

    va_start(args, fmt);
    rc = ngx_http_llm_vbad(ps->pool, &ps->error, fmt, args);
    va_end(args);

    return rc;
}


static ngx_int_t
ngx_http_llm_openai_message(ngx_http_llm_openai_ps_t *ps, ngx_int_t m)
{
    ngx_int_t                rc, v, c;
    ngx_str_t                role, s;
    ngx_uint_t               allow;
    ngx_http_llm_json_t     *js;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *msg;

    js = ps->js;

    if (ngx_http_llm_json_type(js, m) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for 'messages[%ui]': expected an object.",
                   ps->index);
    }

    v = ngx_http_llm_json_get(js, m, "role");

    if (v < 0 || ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING) {
        return ngx_http_llm_openai_invalid(ps,
                   "Missing required parameter: 'messages[%ui].role'.",
                   ps->index);
    }

    ngx_http_llm_json_raw(js, v, &role);

    msg = ngx_array_push(&ps->req->messages);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(msg, sizeof(ngx_http_llm_message_t));

    if (ngx_array_init(&msg->parts, ps->pool, 1, sizeof(ngx_http_llm_part_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

#define ngx_http_llm_role_is(s)                                               \
    (role.len == sizeof(s) - 1 && ngx_memcmp(role.data, s, role.len) == 0)

    if (ngx_http_llm_role_is("system") || ngx_http_llm_role_is("developer")) {
        msg->role = NGX_HTTP_LLM_ROLE_SYSTEM;
        allow = NGX_HTTP_LLM_OPENAI_ALLOW_TEXT;

    } else if (ngx_http_llm_role_is("user")) {
        msg->role = NGX_HTTP_LLM_ROLE_USER;
        allow = NGX_HTTP_LLM_OPENAI_ALLOW_TEXT|NGX_HTTP_LLM_OPENAI_ALLOW_MEDIA;

    } else if (ngx_http_llm_role_is("assistant")) {
        msg->role = NGX_HTTP_LLM_ROLE_ASSISTANT;
        allow = NGX_HTTP_LLM_OPENAI_ALLOW_TEXT
                |NGX_HTTP_LLM_OPENAI_ALLOW_REFUSAL;

    } else if (ngx_http_llm_role_is("tool")) {
        msg->role = NGX_HTTP_LLM_ROLE_TOOL;
        allow = NGX_HTTP_LLM_OPENAI_ALLOW_TEXT;

    } else if (ngx_http_llm_role_is("function")) {
        msg->role = NGX_HTTP_LLM_ROLE_TOOL;
        allow = NGX_HTTP_LLM_OPENAI_ALLOW_TEXT;

    } else {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid value for 'messages[%ui].role': \"%*s\" is not "
                   "one of system, developer, user, assistant, tool.",
                   ps->index, ngx_min(role.len, 64), role.data);
    }

    v = ngx_http_llm_json_get(js, m, "name");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        rc = ngx_http_llm_openai_string(ps, v, "name", &msg->name);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* assistant: the chain of thought of DeepSeek & co. comes first */

    if (msg->role == NGX_HTTP_LLM_ROLE_ASSISTANT) {
        v = ngx_http_llm_json_get(js, m, "reasoning_content");

        if (v < 0) {
            v = ngx_http_llm_json_get(js, m, "reasoning");
        }

        if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
            rc = ngx_http_llm_openai_string(ps, v, "reasoning_content", &s);
            if (rc != NGX_OK) {
                return rc;
            }

            if (s.len) {
                part = ngx_http_llm_part_add(msg,
                                                  NGX_HTTP_LLM_PART_THINKING);
                if (part == NULL) {
                    return NGX_ERROR;
                }

                part->text = s;
            }
        }
    }

    c = ngx_http_llm_json_get(js, m, "content");

    rc = ngx_http_llm_openai_content(ps, c, msg, allow);
    if (rc != NGX_OK) {
        return rc;
    }

    switch (msg->role) {

    case NGX_HTTP_LLM_ROLE_ASSISTANT:

        v = ngx_http_llm_json_get(js, m, "tool_calls");

        if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
            rc = ngx_http_llm_openai_tool_calls(ps, v, msg);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        v = ngx_http_llm_json_get(js, m, "function_call");

        if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {

            /* deprecated: one call, without an id */

            ps->fn_id.data = ngx_pnalloc(ps->pool,
                                         sizeof("call_fn_") - 1
                                         + NGX_INT_T_LEN);
            if (ps->fn_id.data == NULL) {
                return NGX_ERROR;
            }

            ps->fn_id.len = ngx_sprintf(ps->fn_id.data, "call_fn_%ui",
                                        ps->fn_n++)
                            - ps->fn_id.data;

            rc = ngx_http_llm_openai_tool_call(ps, v, &ps->fn_id, msg);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        break;

    case NGX_HTTP_LLM_ROLE_TOOL:

        if (ngx_http_llm_role_is("function")) {
            /* deprecated: the result of the last "function_call" */

            if (msg->name.len == 0) {
                return ngx_http_llm_openai_invalid(ps,
                           "Missing required parameter: "
                           "'messages[%ui].name'.", ps->index);
            }

            if (ps->fn_id.len) {
                msg->tool_call_id = ps->fn_id;

            } else {
                msg->tool_call_id = msg->name;
            }

            break;
        }

        v = ngx_http_llm_json_get(js, m, "tool_call_id");

        if (v < 0) {
            return ngx_http_llm_openai_invalid(ps,
                       "Missing required parameter: "
                       "'messages[%ui].tool_call_id'.", ps->index);
        }

        rc = ngx_http_llm_openai_string(ps, v, "tool_call_id",
                                        &msg->tool_call_id);
        if (rc != NGX_OK) {
            return rc;
        }

        break;

    default:

        if (c < 0 || ngx_http_llm_json_is_null(js, c)) {
            return ngx_http_llm_openai_invalid(ps,
                       "Missing required parameter: "
                       "'messages[%ui].content'.", ps->index);
        }
    }

#undef ngx_http_llm_role_is

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_content(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    ngx_http_llm_message_t *msg, ngx_uint_t allow)
{
    ngx_int_t             rc, p, n;
    ngx_http_llm_json_t  *js;
    ngx_http_llm_part_t  *part;

    js = ps->js;

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        return NGX_OK;
    }

    switch (ngx_http_llm_json_type(js, v)) {

    case NGX_HTTP_LLM_JSON_STRING:

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_llm_openai_string(ps, v, "content", &part->text);

    case NGX_HTTP_LLM_JSON_ARRAY:

        for (n = 0; ; n++) {
            p = ngx_http_llm_json_index(js, v, n);
            if (p < 0) {
                break;
            }

            rc = ngx_http_llm_openai_part(ps, p, n, msg, allow);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        return NGX_OK;

    default:
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for 'messages[%ui].content': expected a "
                   "string or an array of content parts.", ps->index);
    }
}


static ngx_int_t
ngx_http_llm_openai_part(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    ngx_uint_t n, ngx_http_llm_message_t *msg, ngx_uint_t allow)
{
    ngx_int_t             rc, t, o, u;
    ngx_str_t             type, s, url;
    ngx_http_llm_json_t  *js;
    ngx_http_llm_part_t  *part;

    js = ps->js;

    t = ngx_http_llm_json_get(js, v, "type");

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_OBJECT
        || t < 0 || ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING)
    {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid 'messages[%ui].content[%ui]': expected an "
                   "object with a \"type\".", ps->index, n);
    }

    ngx_http_llm_json_raw(js, t, &type);

#define ngx_http_llm_type_is(s)                                               \
    (type.len == sizeof(s) - 1 && ngx_memcmp(type.data, s, type.len) == 0)

    if (ngx_http_llm_type_is("text")
        && (allow & NGX_HTTP_LLM_OPENAI_ALLOW_TEXT))
    {
        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        o = ngx_http_llm_json_get(js, v, "text");

        return ngx_http_llm_openai_string(ps, o, "text", &part->text);
    }

    if (ngx_http_llm_type_is("refusal")
        && (allow & NGX_HTTP_LLM_OPENAI_ALLOW_REFUSAL))
    {
        /* what the model said, as text */

        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_TEXT);
        if (part == NULL) {
            return NGX_ERROR;
        }

        o = ngx_http_llm_json_get(js, v, "refusal");

        return ngx_http_llm_openai_string(ps, o, "refusal", &part->text);
    }

    if (ngx_http_llm_type_is("thinking")
        && (allow & NGX_HTTP_LLM_OPENAI_ALLOW_REFUSAL))
    {
        /* Mistral's Magistral: {"thinking": [{"type":"text",...}]} */

        return ngx_http_llm_openai_thinking(ps, v, msg);
    }

    if (!(allow & NGX_HTTP_LLM_OPENAI_ALLOW_MEDIA)) {
        goto unsupported;
    }

    if (ngx_http_llm_type_is("image_url")) {
        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_IMAGE);
        if (part == NULL) {
            return NGX_ERROR;
        }

        o = ngx_http_llm_json_get(js, v, "image_url");

        /* {"url": ...}, or the URL alone (some clients) */

        u = (o >= 0 && ngx_http_llm_json_type(js, o)
                       == NGX_HTTP_LLM_JSON_OBJECT)
            ? ngx_http_llm_json_get(js, o, "url") : o;

        rc = ngx_http_llm_openai_string(ps, u, "image_url.url", &url);
        if (rc != NGX_OK) {
            return rc;
        }

        if (url.len > 5 && ngx_strncasecmp(url.data, (u_char *) "data:", 5)
                           == 0)
        {
            if (ngx_http_llm_openai_data_uri(&url, &part->media_type,
                                             &part->data)
                != NGX_OK)
            {
                return ngx_http_llm_openai_invalid(ps,
                           "Invalid 'messages[%ui].content[%ui].image_url"
                           ".url': a data URL must be base64 "
                           "(data:<type>;base64,...).", ps->index, n);
            }

            return NGX_OK;
        }

        part->url = url;

        return NGX_OK;
    }

    if (ngx_http_llm_type_is("input_audio")) {
        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_AUDIO);
        if (part == NULL) {
            return NGX_ERROR;
        }

        o = ngx_http_llm_json_get(js, v, "input_audio");

        rc = ngx_http_llm_openai_string(ps,
                                        ngx_http_llm_json_get(js, o, "data"),
                                        "input_audio.data", &part->data);
        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_llm_openai_string(ps,
                                        ngx_http_llm_json_get(js, o, "format"),
                                        "input_audio.format", &s);
        if (rc != NGX_OK) {
            return rc;
        }

        part->media_type.len = sizeof("audio/") - 1 + s.len;
        part->media_type.data = ngx_pnalloc(ps->pool, part->media_type.len);
        if (part->media_type.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ngx_cpymem(part->media_type.data, "audio/",
                              sizeof("audio/") - 1),
                   s.data, s.len);

        return NGX_OK;
    }

    if (ngx_http_llm_type_is("file")) {
        part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_FILE);
        if (part == NULL) {
            return NGX_ERROR;
        }

        o = ngx_http_llm_json_get(js, v, "file");
        u = ngx_http_llm_json_get(js, o, "file_data");

        if (u < 0) {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid 'messages[%ui].content[%ui].file': only "
                       "\"file_data\" can be sent to this model; uploaded "
                       "files (\"file_id\") belong to OpenAI.",
                       ps->index, n);
        }

        rc = ngx_http_llm_openai_string(ps, u, "file.file_data", &url);
        if (rc != NGX_OK) {
            return rc;
        }

        u = ngx_http_llm_json_get(js, o, "filename");

        if (u >= 0) {
            rc = ngx_http_llm_openai_string(ps, u, "file.filename",
                                            &part->name);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        if (url.len > 5 && ngx_strncasecmp(url.data, (u_char *) "data:", 5)
                           == 0)
        {
            if (ngx_http_llm_openai_data_uri(&url, &part->media_type,
                                             &part->data)
                != NGX_OK)
            {
                return ngx_http_llm_openai_invalid(ps,
                           "Invalid 'messages[%ui].content[%ui].file"
                           ".file_data': a data URL must be base64.",
                           ps->index, n);
            }

            return NGX_OK;
        }

        /* bare base64: a PDF, the only type OpenAI takes */

        ngx_str_set(&part->media_type, "application/pdf");
        part->data = url;

        return NGX_OK;
    }

unsupported:

#undef ngx_http_llm_type_is

    return ngx_http_llm_openai_invalid(ps,
               "Invalid 'messages[%ui].content[%ui].type': \"%*s\" is not "
               "supported in this message.", ps->index, n,
               ngx_min(type.len, 64), type.data);
}


static ngx_int_t
ngx_http_llm_openai_thinking(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    ngx_http_llm_message_t *msg)
{
    u_char               *p;
    size_t                len;
    ngx_int_t             rc, t, k, x;
    ngx_str_t             s;
    ngx_http_llm_json_t  *js;
    ngx_http_llm_part_t  *part;

    js = ps->js;

    part = ngx_http_llm_part_add(msg, NGX_HTTP_LLM_PART_THINKING);
    if (part == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_llm_json_get(js, v, "thinking");

    if (t >= 0 && ngx_http_llm_json_type(js, t) == NGX_HTTP_LLM_JSON_STRING) {
        return ngx_http_llm_openai_string(ps, t, "thinking", &part->text);
    }

    if (t < 0 || ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for 'messages[%ui].content[].thinking': "
                   "expected an array.", ps->index);
    }

    /* the texts, joined: measure, then copy */

    len = 0;
    p = NULL;

    for ( ;; ) {
        for (k = 0; ; k++) {
            x = ngx_http_llm_json_index(js, t, k);
            if (x < 0) {
                break;
            }

            rc = ngx_http_llm_openai_string(ps,
                                           ngx_http_llm_json_get(js, x, "text"),
                                           "thinking[].text", &s);
            if (rc != NGX_OK) {
                return rc;
            }

            if (p == NULL) {
                len += s.len;

            } else {
                p = ngx_cpymem(p, s.data, s.len);
            }
        }

        if (p) {
            break;
        }

        p = ngx_pnalloc(ps->pool, len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        part->text.data = p;
        part->text.len = len;
    }

    return NGX_OK;
}


/*
 * "data:image/png;base64,AAAA": the media type and the base64 data
 */

static ngx_int_t
ngx_http_llm_openai_data_uri(ngx_str_t *uri, ngx_str_t *media_type,
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

    /* parameters other than base64 ("charset=...") are not kept */

    p = ngx_strlchr(media_type->data, media_type->data + media_type->len, ';');

    if (p) {
        media_type->len = p - media_type->data;
    }

    data->data = comma + 1;
    data->len = last - comma - 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_tool_calls(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    ngx_http_llm_message_t *msg)
{
    ngx_int_t             rc, c, f, n, i;
    ngx_str_t             id;
    ngx_http_llm_json_t  *js;

    js = ps->js;

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for 'messages[%ui].tool_calls': expected "
                   "an array.", ps->index);
    }

    for (n = 0; ; n++) {
        c = ngx_http_llm_json_index(js, v, n);
        if (c < 0) {
            break;
        }

        i = ngx_http_llm_json_get(js, c, "id");

        rc = ngx_http_llm_openai_string(ps, i, "tool_calls[].id", &id);
        if (rc != NGX_OK) {
            return rc;
        }

        f = ngx_http_llm_json_get(js, c, "function");

        rc = ngx_http_llm_openai_tool_call(ps, f, &id, msg);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_tool_call(ngx_http_llm_openai_ps_t *ps, ngx_int_t f,
    ngx_str_t *id, ngx_http_llm_message_t *msg)
{
    ngx_int_t                  rc;
    ngx_str_t                  args;
    ngx_http_llm_json_t       *js, check;
    ngx_http_llm_tool_call_t  *tc;

    js = ps->js;

    if (f < 0 || ngx_http_llm_json_type(js, f) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_openai_invalid(ps,
                   "Missing required parameter: "
                   "'messages[%ui].tool_calls[].function'.", ps->index);
    }

    if (msg->tool_calls.nalloc == 0
        && ngx_array_init(&msg->tool_calls, ps->pool, 2,
                          sizeof(ngx_http_llm_tool_call_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    tc = ngx_array_push(&msg->tool_calls);
    if (tc == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));

    tc->id = *id;

    rc = ngx_http_llm_openai_string(ps, ngx_http_llm_json_get(js, f, "name"),
                                    "function.name", &tc->name);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llm_openai_string(ps,
                                    ngx_http_llm_json_get(js, f, "arguments"),
                                    "function.arguments", &args);
    if (rc != NGX_OK) {
        return rc;
    }

    /* a JSON text in a string: "" is a call without arguments */

    while (args.len && (args.data[0] == ' ' || args.data[0] == '\n'
                        || args.data[0] == '\r' || args.data[0] == '\t'))
    {
        args.data++;
        args.len--;
    }

    if (args.len == 0) {
        ngx_str_set(&tc->arguments, "{}");
        return NGX_OK;
    }

    rc = ngx_http_llm_json_parse(ps->pool, &check, args.data, args.len,
                                 1024 * 1024);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&check, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid 'messages[%ui].tool_calls[].function.arguments'"
                   ": the arguments of \"%*s\" are not a JSON object.",
                   ps->index, ngx_min(tc->name.len, 64), tc->name.data);
    }

    ngx_pfree(ps->pool, check.toks);

    tc->arguments = args;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_tools(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    const char *key)
{
    ngx_int_t             rc, t, f, o, n;
    ngx_str_t             type;
    ngx_http_llm_json_t  *js;
    ngx_http_llm_tool_t  *tool;

    js = ps->js;

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_ARRAY) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for '%s': expected an array.", key);
    }

    for (n = 0; ; n++) {
        t = ngx_http_llm_json_index(js, v, n);
        if (t < 0) {
            break;
        }

        if (ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_OBJECT) {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid type for '%s[%ui]': expected an object.",
                       key, n);
        }

        if (key[0] == 't') {
            /* tools: {"type": "function", "function": {...}} */

            o = ngx_http_llm_json_get(js, t, "type");

            if (o >= 0) {
                ngx_http_llm_json_raw(js, o, &type);

                if (type.len != sizeof("function") - 1
                    || ngx_memcmp(type.data, "function", type.len) != 0)
                {
                    return ngx_http_llm_openai_invalid(ps,
                               "Invalid 'tools[%ui].type': only \"function\""
                               " tools can be sent to this model.", n);
                }
            }

            f = ngx_http_llm_json_get(js, t, "function");

        } else {
            /* the deprecated "functions": the function itself */
            f = t;
        }

        if (f < 0 || ngx_http_llm_json_type(js, f) != NGX_HTTP_LLM_JSON_OBJECT)
        {
            return ngx_http_llm_openai_invalid(ps,
                       "Missing required parameter: '%s[%ui].function'.",
                       key, n);
        }

        tool = ngx_array_push(&ps->req->tools);
        if (tool == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tool, sizeof(ngx_http_llm_tool_t));

        rc = ngx_http_llm_openai_string(ps,
                                        ngx_http_llm_json_get(js, f, "name"),
                                        "function.name", &tool->name);
        if (rc != NGX_OK) {
            return rc;
        }

        o = ngx_http_llm_json_get(js, f, "description");

        if (o >= 0 && !ngx_http_llm_json_is_null(js, o)) {
            rc = ngx_http_llm_openai_string(ps, o, "function.description",
                                            &tool->description);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        o = ngx_http_llm_json_get(js, f, "parameters");

        if (o >= 0 && !ngx_http_llm_json_is_null(js, o)) {

            if (ngx_http_llm_json_type(js, o) != NGX_HTTP_LLM_JSON_OBJECT) {
                return ngx_http_llm_openai_invalid(ps,
                           "Invalid type for '%s[%ui].function.parameters':"
                           " expected a JSON schema object.", key, n);
            }

            ngx_http_llm_json_raw(js, o, &tool->parameters);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_tool_choice(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    const char *key)
{
    ngx_int_t               rc, f, t;
    ngx_str_t               s;
    ngx_http_llm_json_t    *js;
    ngx_http_llm_request_t *req;

    js = ps->js;
    req = ps->req;

    if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
        ngx_http_llm_json_raw(js, v, &s);

#define ngx_http_llm_choice_is(c)                                             \
    (s.len == sizeof(c) - 1 && ngx_memcmp(s.data, c, s.len) == 0)

        if (ngx_http_llm_choice_is("auto")) {
            req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_AUTO;

        } else if (ngx_http_llm_choice_is("none")) {
            req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NONE;

        } else if (ngx_http_llm_choice_is("required")
                   || ngx_http_llm_choice_is("any"))
        {
            req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_ANY;

        } else {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid value for '%s': expected \"none\", "
                       "\"auto\", \"required\" or an object.", key);
        }

#undef ngx_http_llm_choice_is

        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for '%s': expected a string or an object.",
                   key);
    }

    /* {"type":"function","function":{"name":...}}, or {"name":...} */

    t = ngx_http_llm_json_get(js, v, "type");

    if (t >= 0) {
        ngx_http_llm_json_raw(js, t, &s);

        if (s.len != sizeof("function") - 1
            || ngx_memcmp(s.data, "function", s.len) != 0)
        {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid value for '%s.type': only \"function\" "
                       "can be sent to this model.", key);
        }
    }

    f = ngx_http_llm_json_get(js, v, "function");

    if (f < 0) {
        f = v;
    }

    rc = ngx_http_llm_openai_string(ps, ngx_http_llm_json_get(js, f, "name"),
                                    "tool_choice.function.name",
                                    &req->tool_choice_name);
    if (rc != NGX_OK) {
        return rc;
    }

    req->tool_choice = NGX_HTTP_LLM_TOOL_CHOICE_NAMED;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_response_format(ngx_http_llm_openai_ps_t *ps,
    ngx_int_t v)
{
    ngx_int_t                rc, t, s, o;
    ngx_str_t                type;
    ngx_http_llm_json_t     *js;
    ngx_http_llm_request_t  *req;

    js = ps->js;
    req = ps->req;

    t = ngx_http_llm_json_get(js, v, "type");

    if (t < 0 || ngx_http_llm_json_type(js, t) != NGX_HTTP_LLM_JSON_STRING) {
        return ngx_http_llm_openai_invalid(ps,
                   "Missing required parameter: 'response_format.type'.");
    }

    ngx_http_llm_json_raw(js, t, &type);

    if (type.len == 4 && ngx_memcmp(type.data, "text", 4) == 0) {
        req->format = NGX_HTTP_LLM_FORMAT_TEXT;
        return NGX_OK;
    }

    if (type.len == 11 && ngx_memcmp(type.data, "json_object", 11) == 0) {
        req->format = NGX_HTTP_LLM_FORMAT_JSON;
        return NGX_OK;
    }

    if (type.len != 11 || ngx_memcmp(type.data, "json_schema", 11) != 0) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid value for 'response_format.type': expected "
                   "\"text\", \"json_object\" or \"json_schema\".");
    }

    req->format = NGX_HTTP_LLM_FORMAT_SCHEMA;

    s = ngx_http_llm_json_get(js, v, "json_schema");

    if (s < 0 || ngx_http_llm_json_type(js, s) != NGX_HTTP_LLM_JSON_OBJECT) {
        return ngx_http_llm_openai_invalid(ps,
                   "Missing required parameter: "
                   "'response_format.json_schema'.");
    }

    o = ngx_http_llm_json_get(js, s, "name");

    if (o >= 0) {
        rc = ngx_http_llm_openai_string(ps, o, "json_schema.name",
                                        &req->schema_name);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    o = ngx_http_llm_json_get(js, s, "schema");

    if (o >= 0 && !ngx_http_llm_json_is_null(js, o)) {
        if (ngx_http_llm_json_type(js, o) != NGX_HTTP_LLM_JSON_OBJECT) {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid type for 'response_format.json_schema"
                       ".schema': expected an object.");
        }

        ngx_http_llm_json_raw(js, o, &req->schema);
    }

    o = ngx_http_llm_json_get(js, s, "strict");

    if (o >= 0 && !ngx_http_llm_json_is_null(js, o)) {
        return ngx_http_llm_openai_bool(ps, o, "json_schema.strict",
                                        &req->schema_strict);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_options(ngx_http_llm_openai_ps_t *ps)
{
    ngx_int_t                      rc, v, s, i, n, b;
    ngx_str_t                     *stop;
    ngx_http_llm_json_t           *js;
    ngx_http_llm_request_t        *req;
    ngx_http_llm_openai_number_t  *num;

    js = ps->js;
    req = ps->req;
    b = 0;      /* set by ngx_http_llm_openai_bool() on NGX_OK: for gcc -O2 */

#define ngx_http_llm_field(key)                                               \
    ((v = ngx_http_llm_json_get(js, 0, key)) >= 0                             \
     && !ngx_http_llm_json_is_null(js, v))

    if (ngx_http_llm_field("tools")) {
        rc = ngx_http_llm_openai_tools(ps, v, "tools");
        if (rc != NGX_OK) {
            return rc;
        }

    } else if (ngx_http_llm_field("functions")) {
        rc = ngx_http_llm_openai_tools(ps, v, "functions");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_field("tool_choice")) {
        rc = ngx_http_llm_openai_tool_choice(ps, v, "tool_choice");
        if (rc != NGX_OK) {
            return rc;
        }

    } else if (ngx_http_llm_field("function_call")) {
        rc = ngx_http_llm_openai_tool_choice(ps, v, "function_call");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_field("parallel_tool_calls")) {
        rc = ngx_http_llm_openai_bool(ps, v, "parallel_tool_calls",
                                      &req->parallel_tool_calls);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_field("max_completion_tokens")) {
        rc = ngx_http_llm_openai_int(ps, v, "max_completion_tokens",
                                     &req->max_tokens);
        if (rc != NGX_OK) {
            return rc;
        }

    } else if (ngx_http_llm_field("max_tokens")) {
        rc = ngx_http_llm_openai_int(ps, v, "max_tokens", &req->max_tokens);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* sampling numbers: kept as written, for the provider's writer */

    for (num = ngx_http_llm_openai_numbers; num->key; num++) {
        if (ngx_http_llm_field(num->key)) {
            rc = ngx_http_llm_openai_number(ps, v, num->key,
                                            (ngx_str_t *) ((u_char *) req
                                                           + num->offset));
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    if (ngx_http_llm_field("n")) {
        rc = ngx_http_llm_openai_int(ps, v, "n", &req->n);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_field("stop")) {

        if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
            stop = ngx_array_push(&req->stop);
            if (stop == NULL) {
                return NGX_ERROR;
            }

            rc = ngx_http_llm_openai_string(ps, v, "stop", stop);
            if (rc != NGX_OK) {
                return rc;
            }

        } else if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_ARRAY) {

            for (n = 0; ; n++) {
                s = ngx_http_llm_json_index(js, v, n);
                if (s < 0) {
                    break;
                }

                stop = ngx_array_push(&req->stop);
                if (stop == NULL) {
                    return NGX_ERROR;
                }

                rc = ngx_http_llm_openai_string(ps, s, "stop[]", stop);
                if (rc != NGX_OK) {
                    return rc;
                }
            }

        } else {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid type for 'stop': expected a string or an "
                       "array of strings.");
        }
    }

    if (ngx_http_llm_field("response_format")) {
        if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_OBJECT) {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid type for 'response_format': expected an "
                       "object.");
        }

        rc = ngx_http_llm_openai_response_format(ps, v);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_field("reasoning_effort")) {
        rc = ngx_http_llm_openai_string(ps, v, "reasoning_effort",
                                        &req->reasoning_effort);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* LiteLLM's extension: Anthropic's "thinking" in an OpenAI request */

    if (ngx_http_llm_field("thinking")
        && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_OBJECT)
    {
        i = ngx_http_llm_json_get(js, v, "budget_tokens");

        if (i >= 0) {
            rc = ngx_http_llm_openai_int(ps, i, "thinking.budget_tokens",
                                         &req->thinking_budget);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    if (ngx_http_llm_field("user")) {
        rc = ngx_http_llm_openai_string(ps, v, "user", &req->user);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_llm_field("stream")) {
        rc = ngx_http_llm_openai_bool(ps, v, "stream", &b);
        if (rc != NGX_OK) {
            return rc;
        }

        req->stream = b;
    }

    if (req->stream && ngx_http_llm_field("stream_options")) {
        i = ngx_http_llm_json_get(js, v, "include_usage");

        if (i >= 0 && !ngx_http_llm_json_is_null(js, i)) {
            rc = ngx_http_llm_openai_bool(ps, i,
                                          "stream_options.include_usage", &b);
            if (rc != NGX_OK) {
                return rc;
            }

            req->include_usage = b;
        }
    }

#undef ngx_http_llm_field

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_string(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    const char *key, ngx_str_t *out)
{
    ngx_int_t  rc;

    if (v < 0) {
        if (ps->in_msg) {
            return ngx_http_llm_openai_invalid(ps,
                       "Missing required parameter: 'messages[%ui].%s'.",
                       ps->index, key);
        }

        return ngx_http_llm_openai_invalid(ps,
                   "Missing required parameter: '%s'.", key);
    }

    rc = ngx_http_llm_json_string(ps->pool, ps->js, v, out);

    if (rc == NGX_DECLINED) {
        if (ps->in_msg) {
            return ngx_http_llm_openai_invalid(ps,
                       "Invalid type for 'messages[%ui].%s': expected a "
                       "string.", ps->index, key);
        }

        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for '%s': expected a string.", key);
    }

    return rc;
}


static ngx_int_t
ngx_http_llm_openai_number(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    const char *key, ngx_str_t *out)
{
    u_char  c;

    c = ps->js->data[ps->js->toks[v].start];

    if (ngx_http_llm_json_type(ps->js, v) != NGX_HTTP_LLM_JSON_PRIMITIVE
        || !(c == '-' || (c >= '0' && c <= '9')))
    {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for '%s': expected a number.", key);
    }

    ngx_http_llm_json_raw(ps->js, v, out);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_int(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    const char *key, ngx_int_t *out)
{
    if (ngx_http_llm_json_int(ps->js, v, out) != NGX_OK) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for '%s': expected a non-negative "
                   "integer.", key);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_bool(ngx_http_llm_openai_ps_t *ps, ngx_int_t v,
    const char *key, ngx_int_t *out)
{
    ngx_int_t  b;

    b = ngx_http_llm_json_bool(ps->js, v);

    if (b < 0) {
        return ngx_http_llm_openai_invalid(ps,
                   "Invalid type for '%s': expected a boolean.", key);
    }

    *out = b;

    return NGX_OK;
}



/* response ---------------------------------------------------------------- */


ngx_int_t
ngx_http_llm_openai_make_id(ngx_pool_t *pool, const char *prefix,
    ngx_str_t *id)
{
    u_char      *p;
    size_t       len;
    uint32_t     v;
    ngx_uint_t   i;

    static u_char  alnum[] = "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    len = ngx_strlen(prefix);

    id->data = ngx_pnalloc(pool, len + 24);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(id->data, prefix, len);

    v = 0;

    for (i = 0; i < 24; i++) {
        if (i % 4 == 0) {
            v = (uint32_t) ngx_random() ^ (uint32_t) ngx_time();
        }

        *p++ = alnum[(v & 0xff) % (sizeof(alnum) - 1)];
        v >>= 8;
    }

    id->len = p - id->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out)
{
    ngx_str_t   body, id;
    ngx_buf_t  *b;

    /* the usage goes to the client and to the $llm_* variables */

    if (resp->usage.known) {
        ctx->usage = resp->usage;

    } else if (ctx->usage.known) {
        resp->usage = ctx->usage;
    }

    if (ctx->usage.known && ctx->usage.total == 0) {
        ctx->usage.total = ctx->usage.prompt + ctx->usage.completion;
    }

    if (resp->id.len) {
        id = resp->id;

    } else if (ngx_http_llm_openai_make_id(r->pool, "chatcmpl-", &id)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llm_openai_write_response_body(r->pool, resp, &id,
                                                &ctx->model, ngx_time(),
                                                &body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->start = body.data;
    b->pos = body.data;
    b->last = body.data + body.len;
    b->end = b->last;
    b->temporary = 1;

    *out = ngx_alloc_chain_link(r->pool);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    (*out)->buf = b;
    (*out)->next = NULL;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_openai_write_response_body(ngx_pool_t *pool,
    ngx_http_llm_response_t *resp, ngx_str_t *id, ngx_str_t *model,
    time_t created, ngx_str_t *body)
{
    size_t                     size;
    ngx_uint_t                 i;
    ngx_http_llm_jw_t          jw;
    ngx_http_llm_tool_call_t  *tc;

    size = 512 + resp->text.len + resp->reasoning.len + resp->refusal.len;

    tc = resp->tool_calls.elts;

    for (i = 0; i < resp->tool_calls.nelts; i++) {
        size += 96 + tc[i].id.len + tc[i].name.len + tc[i].arguments.len;
    }

    if (ngx_http_llm_jw_init(&jw, pool, size) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_llm_jw_lit(&jw, "{\"id\":");
    ngx_http_llm_jw_string(&jw, id);
    ngx_http_llm_jw_lit(&jw, ",\"object\":\"chat.completion\",\"created\":");
    ngx_http_llm_jw_int(&jw, created);
    ngx_http_llm_jw_lit(&jw, ",\"model\":");
    ngx_http_llm_jw_string(&jw, model);
    ngx_http_llm_jw_lit(&jw, ",\"choices\":[{\"index\":0,\"message\":"
                             "{\"role\":\"assistant\",\"content\":");

    if (resp->text.len || resp->tool_calls.nelts == 0) {
        ngx_http_llm_jw_string(&jw, &resp->text);

    } else {
        ngx_http_llm_jw_lit(&jw, "null");
    }

    if (resp->reasoning.len) {
        ngx_http_llm_jw_lit(&jw, ",\"reasoning_content\":");
        ngx_http_llm_jw_string(&jw, &resp->reasoning);
    }

    if (resp->tool_calls.nelts) {
        ngx_http_llm_jw_lit(&jw, ",\"tool_calls\":[");

        for (i = 0; i < resp->tool_calls.nelts; i++) {
            if (i) {
                ngx_http_llm_jw_lit(&jw, ",");
            }

            ngx_http_llm_jw_lit(&jw, "{\"id\":");
            ngx_http_llm_jw_string(&jw, &tc[i].id);
            ngx_http_llm_jw_lit(&jw, ",\"type\":\"function\",\"function\":"
                                     "{\"name\":");
            ngx_http_llm_jw_string(&jw, &tc[i].name);
            ngx_http_llm_jw_lit(&jw, ",\"arguments\":");

            if (tc[i].arguments.len) {
                ngx_http_llm_jw_string(&jw, &tc[i].arguments);

            } else {
                ngx_http_llm_jw_lit(&jw, "\"{}\"");
            }

            ngx_http_llm_jw_lit(&jw, "}}");
        }

        ngx_http_llm_jw_lit(&jw, "]");
    }

    ngx_http_llm_jw_lit(&jw, ",\"refusal\":");

    if (resp->refusal.len) {
        ngx_http_llm_jw_string(&jw, &resp->refusal);

    } else {
        ngx_http_llm_jw_lit(&jw, "null");
    }

    ngx_http_llm_jw_lit(&jw, "},\"logprobs\":null,\"finish_reason\":");
    ngx_http_llm_jw_string(&jw, ngx_http_llm_finish_openai(
                                    resp->finish ? resp->finish
                                    : NGX_HTTP_LLM_FINISH_STOP));
    ngx_http_llm_jw_lit(&jw, "}]");

    if (resp->usage.known) {
        ngx_http_llm_jw_lit(&jw, ",\"usage\":");
        ngx_http_llm_openai_jw_usage(&jw, &resp->usage);
    }

    ngx_http_llm_jw_lit(&jw, "}");

    if (jw.failed) {
        return NGX_ERROR;
    }

    body->data = jw.start;
    body->len = jw.pos - jw.start;

    return NGX_OK;
}


static void
ngx_http_llm_openai_jw_usage(ngx_http_llm_jw_t *jw, ngx_http_llm_usage_t *u)
{
    ngx_http_llm_jw_lit(jw, "{\"prompt_tokens\":");
    ngx_http_llm_jw_int(jw, u->prompt);
    ngx_http_llm_jw_lit(jw, ",\"completion_tokens\":");
    ngx_http_llm_jw_int(jw, u->completion);
    ngx_http_llm_jw_lit(jw, ",\"total_tokens\":");
    ngx_http_llm_jw_int(jw, u->total ? u->total : u->prompt + u->completion);
    ngx_http_llm_jw_lit(jw, ",\"prompt_tokens_details\":{\"cached_tokens\":");
    ngx_http_llm_jw_int(jw, u->cached);
    ngx_http_llm_jw_lit(jw, "}}");
}


/* stream ------------------------------------------------------------------ */


static ngx_int_t
ngx_http_llm_openai_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    ngx_int_t                   rc;
    ngx_http_llm_delta_t        d;
    ngx_http_llm_openai_out_t  *st;

    if (ctx->out_state == NULL) {
        if (ngx_http_llm_openai_out_init(r, ctx, delta) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    st = ctx->out_state;

    if (st->closed) {
        return NGX_OK;
    }

    switch (delta->type) {

    case NGX_HTTP_LLM_DELTA_START:
        if (st->role_sent) {
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLM_DELTA_TEXT:
    case NGX_HTTP_LLM_DELTA_REASONING:
    case NGX_HTTP_LLM_DELTA_TOOL_ARGS:
        if (delta->text.len == 0) {
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLM_DELTA_SIGNATURE:
        /* OpenAI has no place for it */
        return NGX_OK;

    case NGX_HTTP_LLM_DELTA_FINISH:
        if (st->finish_sent) {
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLM_DELTA_USAGE:
        /* sent before [DONE], after the finish chunk, as OpenAI does */
        st->usage = 1;
        return NGX_OK;

    case NGX_HTTP_LLM_DELTA_ERROR:
        /* the OpenAI SDKs raise on {"error": ...}; nothing may follow */
        st->closed = 1;
        return ngx_http_llm_openai_chunk(r, ctx, st, delta, ll);

    case NGX_HTTP_LLM_DELTA_DONE:
        break;

    case NGX_HTTP_LLM_DELTA_TOOL_START:
        break;

    default:
        return NGX_OK;
    }

    /* the role comes first, even when the provider had no start event */

    if (!st->role_sent) {
        ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));
        d.type = NGX_HTTP_LLM_DELTA_START;

        rc = ngx_http_llm_openai_chunk(r, ctx, st, &d, ll);
        if (rc != NGX_OK) {
            return rc;
        }

        st->role_sent = 1;

        if (delta->type == NGX_HTTP_LLM_DELTA_START) {
            return NGX_OK;
        }
    }

    if (delta->type == NGX_HTTP_LLM_DELTA_DONE) {

        /* a stream without a finish reason still gets one */

        if (!st->finish_sent) {
            ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));
            d.type = NGX_HTTP_LLM_DELTA_FINISH;
            d.finish = NGX_HTTP_LLM_FINISH_STOP;

            rc = ngx_http_llm_openai_chunk(r, ctx, st, &d, ll);
            if (rc != NGX_OK) {
                return rc;
            }

            st->finish_sent = 1;
        }

        /* usage: when the client asked for it, as OpenAI's last chunk */

        if ((st->usage || ctx->usage.known)
            && ctx->req && ctx->req->include_usage)
        {
            ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));
            d.type = NGX_HTTP_LLM_DELTA_USAGE;

            rc = ngx_http_llm_openai_chunk(r, ctx, st, &d, ll);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        st->closed = 1;
    }

    if (delta->type == NGX_HTTP_LLM_DELTA_FINISH) {
        st->finish_sent = 1;
    }

    return ngx_http_llm_openai_chunk(r, ctx, st, delta, ll);
}


static ngx_int_t
ngx_http_llm_openai_out_init(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_delta_t *delta)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                   id;
    ngx_http_llm_openai_out_t  *st;

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_openai_out_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    /* the provider's id if it starts the stream with one */

    if (delta->type == NGX_HTTP_LLM_DELTA_START && delta->id.len) {
        id = delta->id;

    } else if (ngx_http_llm_openai_make_id(r->pool, "chatcmpl-", &id)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* what every chunk starts with, escaped once */

    len = sizeof("data: {\"id\":\"\",\"object\":\"chat.completion.chunk\","
                 "\"created\":,\"model\":\"\",\"choices\":[") - 1
          + ngx_escape_json(NULL, id.data, id.len) + id.len
          + ngx_escape_json(NULL, ctx->model.data, ctx->model.len)
          + ctx->model.len + NGX_TIME_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    st->prefix.data = p;

    p = ngx_cpymem(p, "data: {\"id\":\"", sizeof("data: {\"id\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, id.data, id.len);
    p = ngx_sprintf(p, "\",\"object\":\"chat.completion.chunk\","
                    "\"created\":%T,\"model\":\"", ngx_time());
    p = (u_char *) ngx_escape_json(p, ctx->model.data, ctx->model.len);
    p = ngx_cpymem(p, "\",\"choices\":[", sizeof("\",\"choices\":[") - 1);

    st->prefix.len = p - st->prefix.data;

    ctx->out_state = st;

    return NGX_OK;
}


/*
 * One event, measured then written into a recycled buffer: the memory
 * of a stream does not grow with its length.
 */

static ngx_int_t
ngx_http_llm_openai_chunk(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_openai_out_t *st, ngx_http_llm_delta_t *d,
    ngx_chain_t ***ll)
{
    u_char                *p;
    size_t                 len;
    ngx_buf_t             *b;
    ngx_str_t             *s, type;
    ngx_chain_t           *cl;
    ngx_http_llm_usage_t  *u;

#define NGX_HTTP_LLM_OPENAI_DELTA  "{\"index\":0,\"delta\":{"
#define NGX_HTTP_LLM_OPENAI_NULL   "},\"finish_reason\":null}]}\n\n"

#define ngx_http_llm_lit(s)        p = ngx_cpymem(p, s, sizeof(s) - 1)
#define ngx_http_llm_esc(s)                                                   \
    p = ngx_http_llm_json_escape(p, (s)->data, (s)->len)
#define ngx_http_llm_esc_len(s)                                               \
    ngx_http_llm_json_escape_len((s)->data, (s)->len)

    u = &ctx->usage;
    s = ngx_http_llm_finish_openai(d->finish ? d->finish
                                   : NGX_HTTP_LLM_FINISH_STOP);

    switch (d->type) {

    case NGX_HTTP_LLM_DELTA_START:
        len = sizeof(NGX_HTTP_LLM_OPENAI_DELTA
                     "\"role\":\"assistant\",\"content\":\"\""
                     NGX_HTTP_LLM_OPENAI_NULL) - 1;
        break;

    case NGX_HTTP_LLM_DELTA_TEXT:
    case NGX_HTTP_LLM_DELTA_REASONING:
        len = sizeof(NGX_HTTP_LLM_OPENAI_DELTA "\"reasoning_content\":\"\""
                     NGX_HTTP_LLM_OPENAI_NULL) - 1
              + ngx_http_llm_esc_len(&d->text);
        break;

    case NGX_HTTP_LLM_DELTA_TOOL_START:
        len = sizeof(NGX_HTTP_LLM_OPENAI_DELTA "\"tool_calls\":[{\"index\":"
                     ",\"id\":\"\",\"type\":\"function\",\"function\":"
                     "{\"name\":\"\",\"arguments\":\"\"}}]"
                     NGX_HTTP_LLM_OPENAI_NULL) - 1
              + NGX_INT_T_LEN + ngx_http_llm_esc_len(&d->id)
              + ngx_http_llm_esc_len(&d->name);
        break;

    case NGX_HTTP_LLM_DELTA_TOOL_ARGS:
        len = sizeof(NGX_HTTP_LLM_OPENAI_DELTA "\"tool_calls\":[{\"index\":"
                     ",\"function\":{\"arguments\":\"\"}}]"
                     NGX_HTTP_LLM_OPENAI_NULL) - 1
              + NGX_INT_T_LEN + ngx_http_llm_esc_len(&d->text);
        break;

    case NGX_HTTP_LLM_DELTA_FINISH:
        len = sizeof(NGX_HTTP_LLM_OPENAI_DELTA "},\"finish_reason\":\"\"}]}"
                     "\n\n") - 1
              + s->len;
        break;

    case NGX_HTTP_LLM_DELTA_USAGE:
        len = sizeof("],\"usage\":{\"prompt_tokens\":,\"completion_tokens\":"
                     ",\"total_tokens\":,\"prompt_tokens_details\":"
                     "{\"cached_tokens\":}}}\n\n") - 1
              + 4 * NGX_INT_T_LEN;
        break;

    case NGX_HTTP_LLM_DELTA_ERROR:
        len = sizeof("data: {\"error\":{\"message\":\"\",\"type\":\"\","
                     "\"param\":null,\"code\":null}}\n\n") - 1
              + ngx_http_llm_esc_len(&d->error_message)
              + ngx_http_llm_esc_len(&d->error_type)
              + sizeof("The model provider returned an error.") - 1
              + sizeof("server_error") - 1
              + sizeof("\"\"") - 1 + ngx_http_llm_esc_len(&d->error_code);
        break;

    default: /* NGX_HTTP_LLM_DELTA_DONE */
        len = sizeof("data: [DONE]\n\n") - 1;
        break;
    }

    len += st->prefix.len;

    cl = ngx_http_llm_get_buf(r, len);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;
    p = b->last;

    if (d->type != NGX_HTTP_LLM_DELTA_DONE
        && d->type != NGX_HTTP_LLM_DELTA_ERROR)
    {
        p = ngx_cpymem(p, st->prefix.data, st->prefix.len);
    }

    switch (d->type) {

    case NGX_HTTP_LLM_DELTA_START:
        ngx_http_llm_lit(NGX_HTTP_LLM_OPENAI_DELTA
                         "\"role\":\"assistant\",\"content\":\"\""
                         NGX_HTTP_LLM_OPENAI_NULL);
        break;

    case NGX_HTTP_LLM_DELTA_TEXT:
        ngx_http_llm_lit(NGX_HTTP_LLM_OPENAI_DELTA "\"content\":\"");
        ngx_http_llm_esc(&d->text);
        ngx_http_llm_lit("\"" NGX_HTTP_LLM_OPENAI_NULL);
        break;

    case NGX_HTTP_LLM_DELTA_REASONING:
        ngx_http_llm_lit(NGX_HTTP_LLM_OPENAI_DELTA "\"reasoning_content\":\"");
        ngx_http_llm_esc(&d->text);
        ngx_http_llm_lit("\"" NGX_HTTP_LLM_OPENAI_NULL);
        break;

    case NGX_HTTP_LLM_DELTA_TOOL_START:
        ngx_http_llm_lit(NGX_HTTP_LLM_OPENAI_DELTA "\"tool_calls\":[{"
                         "\"index\":");
        p = ngx_sprintf(p, "%ui", d->index);
        ngx_http_llm_lit(",\"id\":\"");
        ngx_http_llm_esc(&d->id);
        ngx_http_llm_lit("\",\"type\":\"function\",\"function\":{\"name\":\"");
        ngx_http_llm_esc(&d->name);
        ngx_http_llm_lit("\",\"arguments\":\"\"}}]" NGX_HTTP_LLM_OPENAI_NULL);
        break;

    case NGX_HTTP_LLM_DELTA_TOOL_ARGS:
        ngx_http_llm_lit(NGX_HTTP_LLM_OPENAI_DELTA "\"tool_calls\":[{"
                         "\"index\":");
        p = ngx_sprintf(p, "%ui", d->index);
        ngx_http_llm_lit(",\"function\":{\"arguments\":\"");
        ngx_http_llm_esc(&d->text);
        ngx_http_llm_lit("\"}}]" NGX_HTTP_LLM_OPENAI_NULL);
        break;

    case NGX_HTTP_LLM_DELTA_FINISH:
        ngx_http_llm_lit(NGX_HTTP_LLM_OPENAI_DELTA "},\"finish_reason\":\"");
        p = ngx_cpymem(p, s->data, s->len);
        ngx_http_llm_lit("\"}]}\n\n");
        break;

    case NGX_HTTP_LLM_DELTA_USAGE:
        p = ngx_sprintf(p, "],\"usage\":{\"prompt_tokens\":%i,"
                        "\"completion_tokens\":%i,\"total_tokens\":%i,"
                        "\"prompt_tokens_details\":{\"cached_tokens\":%i}}}"
                        "\n\n",
                        u->prompt, u->completion,
                        u->total ? u->total : u->prompt + u->completion,
                        u->cached);
        break;

    case NGX_HTTP_LLM_DELTA_ERROR:
        ngx_http_llm_lit("data: {\"error\":{\"message\":\"");

        if (d->error_message.len) {
            ngx_http_llm_esc(&d->error_message);

        } else {
            ngx_http_llm_lit("The model provider returned an error.");
        }

        ngx_http_llm_lit("\",\"type\":\"");

        if (d->error_type.len) {
            ngx_http_llm_esc(&d->error_type);

        } else {
            ngx_str_set(&type, "server_error");
            ngx_http_llm_esc(&type);
        }

        ngx_http_llm_lit("\",\"param\":null,\"code\":");

        if (d->error_code.len) {
            ngx_http_llm_lit("\"");
            ngx_http_llm_esc(&d->error_code);
            ngx_http_llm_lit("\"}}\n\n");

        } else {
            ngx_http_llm_lit("null}}\n\n");
        }

        break;

    default: /* NGX_HTTP_LLM_DELTA_DONE */
        ngx_http_llm_lit("data: [DONE]\n\n");
        break;
    }

#undef ngx_http_llm_lit
#undef ngx_http_llm_esc
#undef ngx_http_llm_esc_len
#undef NGX_HTTP_LLM_OPENAI_DELTA
#undef NGX_HTTP_LLM_OPENAI_NULL

    b->last = p;
    b->flush = 1;

    **ll = cl;
    *ll = &cl->next;

    return NGX_OK;
}


/* errors ------------------------------------------------------------------ */


static ngx_chain_t *
ngx_http_llm_openai_write_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *message)
{
    return ngx_http_llm_error_body(r, message, type, code, NULL);
}
