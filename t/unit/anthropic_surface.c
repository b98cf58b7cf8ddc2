
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * The Anthropic Messages surface outside nginx.  Modes (output on stdout):
 *
 *   request         an Anthropic request body on stdin: the canonical
 *                   request, one line per item, or "declined: <error>"
 *   response        a canonical response described on stdin (below): the
 *                   Anthropic Message JSON
 *   deltas          canonical deltas described on stdin: the Anthropic SSE
 *   stream FILE     a recorded OpenAI chat stream (*.sse, or one payload a
 *                   line: *.chunks.txt) through the OpenAI adapter's
 *                   translate mode and the surface: the Anthropic SSE
 *   completion FILE a recorded chat.completion through the adapter and
 *                   the surface: the Anthropic Message JSON
 *   stream FILE anthropic, completion FILE anthropic
 *                   the same with recordings of an Anthropic provider and
 *                   the Anthropic adapter: Anthropic to Anthropic through
 *                   the canonical model
 *
 * Description lines (response, deltas): a keyword and its arguments,
 * separated by one space; text runs to the end of the line, with "\n"
 * for a newline.  t/131-anthropic-unit.t drives it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_sse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * what the module's files need from the parts not linked in; the rest of
 * nginx core comes from t/unit/shim.c and t/unit/openai_shim.c
 */


ngx_chain_t *
ngx_http_llm_get_buf(ngx_http_request_t *r, size_t size)
{
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = ngx_create_temp_buf(r->pool, size);
    if (cl->buf == NULL) {
        return NULL;
    }

    cl->next = NULL;

    return cl;
}


ngx_int_t
ngx_http_llm_emit_event(ngx_http_request_t *r, ngx_str_t *name,
    u_char *data, size_t len, ngx_chain_t ***ll)
{
    return NGX_ERROR;
}


ngx_chain_t *
ngx_http_llm_error_body(ngx_http_request_t *r, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *param)
{
    return NULL;
}


/* the Anthropic adapter's (weak: a shim may have it one day) */

__attribute__((weak)) ngx_int_t
ngx_decode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    u_char      *d, c;
    uint32_t     acc;
    ngx_uint_t   i, bits, v;

    d = dst->data;
    acc = 0;
    bits = 0;

    for (i = 0; i < src->len; i++) {
        c = src->data[i];

        if (c == '=') {
            break;
        }

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '+') {
            v = 62;

        } else if (c == '/') {
            v = 63;

        } else {
            return NGX_ERROR;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (acc >> bits);
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/* -- helpers ------------------------------------------------------------ */


static ngx_http_request_t            req_r;
static ngx_connection_t              req_c;
static ngx_log_t                     req_log;
static ngx_http_upstream_t           req_u;
static ngx_http_llm_ctx_t            req_ctx;
static ngx_http_llm_provider_conf_t  req_pc;
static ngx_chain_t                  *out, **last;


static void
init(void)
{
    req_log.log_level = 0;
    req_c.log = &req_log;
    req_r.connection = &req_c;
    req_r.main = &req_r;
    req_r.upstream = &req_u;
    req_r.pool = ngx_create_pool(4096, &req_log);

    ngx_str_set(&req_pc.name, "unit");
    ngx_str_set(&req_pc.host, "127.0.0.1");
    ngx_str_set(&req_pc.base, "/v1");
    req_pc.type = &ngx_http_llm_provider_openai;

    req_ctx.provider = &req_pc;
    req_ctx.surf = &ngx_http_llm_surface_anthropic;
    ngx_str_set(&req_ctx.model, "claude-test");
    req_ctx.upstream_model = req_ctx.model;

    out = NULL;
    last = &out;
}


static ngx_str_t
slurp(FILE *f)
{
    size_t     n;
    ngx_str_t  s;

    s.len = 0;
    s.data = malloc(1 << 20);

    for ( ;; ) {
        n = fread(s.data + s.len, 1, 65536, f);

        if (n == 0) {
            break;
        }

        s.len += n;
        s.data = realloc(s.data, s.len + 65536);
    }

    return s;
}


/* "\n" in a description line is a newline */

static ngx_str_t
arg(char *p)
{
    char       *d;
    ngx_str_t   s;

    s.data = (u_char *) strdup(p);

    for (d = (char *) s.data; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            *d++ = '\n';
            p++;
            continue;
        }

        *d++ = *p;
    }

    s.len = d - (char *) s.data;

    return s;
}


static void
print_str(const char *name, ngx_str_t *s)
{
    printf(" %s=\"%.*s\"", name, (int) s->len, s->data);
}


static void
print_chain(ngx_chain_t *cl)
{
    for ( /* void */ ; cl; cl = cl->next) {
        fwrite(cl->buf->pos, 1, cl->buf->last - cl->buf->pos, stdout);
    }
}


static ngx_uint_t
finish_of(char *s)
{
    if (strcmp(s, "stop") == 0) {
        return NGX_HTTP_LLM_FINISH_STOP;
    }

    if (strcmp(s, "length") == 0) {
        return NGX_HTTP_LLM_FINISH_LENGTH;
    }

    if (strcmp(s, "tool_calls") == 0 || strcmp(s, "function_call") == 0) {
        return NGX_HTTP_LLM_FINISH_TOOL_CALLS;
    }

    if (strcmp(s, "content_filter") == 0) {
        return NGX_HTTP_LLM_FINISH_FILTER;
    }

    if (strcmp(s, "none") == 0) {
        return NGX_HTTP_LLM_FINISH_NONE;
    }

    return NGX_HTTP_LLM_FINISH_STOP;
}


/* -- request ------------------------------------------------------------ */


static const char *part_names[] = {
    "?", "text", "image", "file", "audio", "thinking", "redacted"
};

static const char *role_names[] = {
    "?", "system", "user", "assistant", "tool"
};

static const char *choice_names[] = {
    "unset", "auto", "none", "any", "named"
};


static int
mode_request(void)
{
    ngx_int_t                  rc, v;
    ngx_str_t                  body, *s;
    ngx_uint_t                 i, j;
    ngx_http_llm_json_t        js;
    ngx_http_llm_tool_t       *tool;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_request_t    *req;
    ngx_http_llm_message_t    *msg;
    ngx_http_llm_tool_call_t  *tc;

    body = slurp(stdin);

    if (ngx_http_llm_json_parse(req_r.pool, &js, body.data, body.len, 1 << 20)
        != NGX_OK)
    {
        printf("invalid JSON\n");
        return 1;
    }

    /* what the handler does before */

    v = ngx_http_llm_json_get(&js, 0, "model");
    ngx_http_llm_json_string(req_r.pool, &js, v, &req_ctx.model);
    v = ngx_http_llm_json_get(&js, 0, "stream");
    req_ctx.stream = (ngx_http_llm_json_bool(&js, v) == 1);

    req = ngx_http_llm_request_create(req_r.pool);

    rc = ngx_http_llm_surface_anthropic.parse_request(&req_r, &req_ctx, &js,
                                                       req);

    if (rc == NGX_DECLINED) {
        printf("declined: %s\n", req_ctx.error);
        return 0;
    }

    if (rc != NGX_OK) {
        printf("error\n");
        return 1;
    }

    printf("model=%.*s max_tokens=%d stream=%d include_usage=%d\n",
           (int) req->model.len, req->model.data, (int) req->max_tokens,
           (int) req->stream, (int) req->include_usage);

    msg = req->messages.elts;

    for (i = 0; i < req->messages.nelts; i++) {
        printf("%s", role_names[msg[i].role]);

        if (msg[i].role == NGX_HTTP_LLM_ROLE_TOOL) {
            print_str("id", &msg[i].tool_call_id);

            if (msg[i].is_error) {
                printf(" is_error");
            }
        }

        printf("\n");

        part = msg[i].parts.elts;

        for (j = 0; j < msg[i].parts.nelts; j++) {
            printf("  %s", part_names[part[j].type]);

            if (part[j].text.len || part[j].type == NGX_HTTP_LLM_PART_TEXT
                || part[j].type == NGX_HTTP_LLM_PART_THINKING)
            {
                print_str("text", &part[j].text);
            }

            if (part[j].url.len) {
                print_str("url", &part[j].url);
            }

            if (part[j].media_type.len) {
                print_str("media_type", &part[j].media_type);
            }

            if (part[j].data.len) {
                print_str("data", &part[j].data);
            }

            if (part[j].signature.len) {
                print_str("signature", &part[j].signature);
            }

            if (part[j].name.len) {
                print_str("name", &part[j].name);
            }

            printf("\n");
        }

        tc = msg[i].tool_calls.elts;

        for (j = 0; j < msg[i].tool_calls.nelts; j++) {
            printf("  tool_call");
            print_str("id", &tc[j].id);
            print_str("name", &tc[j].name);
            printf(" arguments=%.*s\n", (int) tc[j].arguments.len,
                   tc[j].arguments.data);
        }
    }

    tool = req->tools.elts;

    for (i = 0; i < req->tools.nelts; i++) {
        printf("tool");
        print_str("name", &tool[i].name);

        if (tool[i].description.len) {
            print_str("description", &tool[i].description);
        }

        printf(" parameters=%.*s\n", (int) tool[i].parameters.len,
               tool[i].parameters.data);
    }

    if (req->tool_choice) {
        printf("tool_choice=%s", choice_names[req->tool_choice]);

        if (req->tool_choice_name.len) {
            print_str("name", &req->tool_choice_name);
        }

        printf("\n");
    }

    if (req->parallel_tool_calls != -1) {
        printf("parallel_tool_calls=%d\n", (int) req->parallel_tool_calls);
    }

    if (req->temperature.len) {
        printf("temperature=%.*s\n", (int) req->temperature.len,
               req->temperature.data);
    }

    if (req->top_p.len) {
        printf("top_p=%.*s\n", (int) req->top_p.len, req->top_p.data);
    }

    if (req->top_k.len) {
        printf("top_k=%.*s\n", (int) req->top_k.len, req->top_k.data);
    }

    s = req->stop.elts;

    for (i = 0; i < req->stop.nelts; i++) {
        printf("stop");
        print_str("sequence", &s[i]);
        printf("\n");
    }

    if (req->user.len) {
        printf("user=%.*s\n", (int) req->user.len, req->user.data);
    }

    if (req->thinking_budget != -1) {
        printf("thinking_budget=%d reasoning_effort=%.*s\n",
               (int) req->thinking_budget, (int) req->reasoning_effort.len,
               req->reasoning_effort.data);
    }

    return 0;
}


/* -- response ----------------------------------------------------------- */


static int
mode_response(void)
{
    char                      line[65536], *sp, *a;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_response_t    resp;
    ngx_http_llm_tool_call_t  *tc;

    ngx_memzero(&resp, sizeof(ngx_http_llm_response_t));
    ngx_array_init(&resp.tool_calls, req_r.pool, 2,
                   sizeof(ngx_http_llm_tool_call_t));
    ngx_array_init(&resp.thinking, req_r.pool, 2, sizeof(ngx_http_llm_part_t));

    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';

        sp = strchr(line, ' ');
        a = sp ? sp + 1 : line + strlen(line);

        if (sp) {
            *sp = '\0';
        }

        if (strcmp(line, "id") == 0) {
            resp.id = arg(a);

        } else if (strcmp(line, "text") == 0) {
            resp.text = arg(a);

        } else if (strcmp(line, "reasoning") == 0) {
            resp.reasoning = arg(a);

        } else if (strcmp(line, "refusal") == 0) {
            resp.refusal = arg(a);

        } else if (strcmp(line, "thinking") == 0) {
            /* thinking SIGNATURE TEXT */
            part = ngx_array_push(&resp.thinking);
            ngx_memzero(part, sizeof(ngx_http_llm_part_t));
            part->type = NGX_HTTP_LLM_PART_THINKING;
            sp = strchr(a, ' ');
            *sp = '\0';
            part->signature = arg(a);
            part->text = arg(sp + 1);

        } else if (strcmp(line, "redacted") == 0) {
            part = ngx_array_push(&resp.thinking);
            ngx_memzero(part, sizeof(ngx_http_llm_part_t));
            part->type = NGX_HTTP_LLM_PART_REDACTED;
            part->data = arg(a);

        } else if (strcmp(line, "tool") == 0) {
            /* tool ID|- NAME ARGUMENTS */
            tc = ngx_array_push(&resp.tool_calls);
            ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));
            sp = strchr(a, ' ');
            *sp = '\0';

            if (strcmp(a, "-") != 0) {
                tc->id = arg(a);
            }

            a = sp + 1;
            sp = strchr(a, ' ');

            if (sp) {
                *sp = '\0';
                tc->arguments = arg(sp + 1);
            }

            tc->name = arg(a);

        } else if (strcmp(line, "finish") == 0) {
            resp.finish = finish_of(a);

        } else if (strcmp(line, "usage") == 0) {
            /* usage PROMPT COMPLETION CACHED */
            resp.usage.known = 1;
            sscanf(a, "%ld %ld %ld", (long *) &resp.usage.prompt,
                   (long *) &resp.usage.completion,
                   (long *) &resp.usage.cached);
        }
    }

    if (ngx_http_llm_surface_anthropic.write_response(&req_r, &req_ctx, &resp,
                                                       &out)
        != NGX_OK)
    {
        printf("error\n");
        return 1;
    }

    print_chain(out);
    printf("\n");

    if (req_ctx.usage.known) {
        printf("ctx usage %d %d %d\n", (int) req_ctx.usage.prompt,
               (int) req_ctx.usage.completion, (int) req_ctx.usage.cached);
    }

    return 0;
}


/* -- deltas ------------------------------------------------------------- */


static int
emit(ngx_http_llm_delta_t *d)
{
    if (ngx_http_llm_emit_delta(&req_r, &req_ctx, d, &last) != NGX_OK) {
        printf("error\n");
        return 1;
    }

    return 0;
}


static int
mode_deltas(void)
{
    char                  line[65536], *sp, *a;
    ngx_http_llm_delta_t  d;

    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';

        sp = strchr(line, ' ');
        a = sp ? sp + 1 : line + strlen(line);

        if (sp) {
            *sp = '\0';
        }

        ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));

        if (strcmp(line, "START") == 0) {
            d.type = NGX_HTTP_LLM_DELTA_START;
            d.id = arg(a);

        } else if (strcmp(line, "TEXT") == 0) {
            d.type = NGX_HTTP_LLM_DELTA_TEXT;
            d.text = arg(a);

        } else if (strcmp(line, "REASONING") == 0) {
            d.type = NGX_HTTP_LLM_DELTA_REASONING;
            d.text = arg(a);

        } else if (strcmp(line, "SIGNATURE") == 0) {
            d.type = NGX_HTTP_LLM_DELTA_SIGNATURE;
            d.text = arg(a);

        } else if (strcmp(line, "TOOL_START") == 0) {
            /* TOOL_START INDEX ID|- NAME */
            d.type = NGX_HTTP_LLM_DELTA_TOOL_START;
            d.index = strtoul(a, &a, 10);
            a++;
            sp = strchr(a, ' ');
            *sp = '\0';

            if (strcmp(a, "-") != 0) {
                d.id = arg(a);
            }

            d.name = arg(sp + 1);

        } else if (strcmp(line, "TOOL_ARGS") == 0) {
            /* TOOL_ARGS INDEX TEXT */
            d.type = NGX_HTTP_LLM_DELTA_TOOL_ARGS;
            d.index = strtoul(a, &a, 10);
            d.text = arg(*a ? a + 1 : a);

        } else if (strcmp(line, "FINISH") == 0) {
            d.type = NGX_HTTP_LLM_DELTA_FINISH;
            d.finish = finish_of(a);

        } else if (strcmp(line, "USAGE") == 0) {
            /* USAGE PROMPT COMPLETION CACHED */
            d.type = NGX_HTTP_LLM_DELTA_USAGE;
            req_ctx.usage.known = 1;
            sscanf(a, "%ld %ld %ld", (long *) &req_ctx.usage.prompt,
                   (long *) &req_ctx.usage.completion,
                   (long *) &req_ctx.usage.cached);

        } else if (strcmp(line, "ERROR") == 0) {
            /* ERROR STATUS TYPE MESSAGE */
            d.type = NGX_HTTP_LLM_DELTA_ERROR;
            d.status = strtoul(a, &a, 10);
            a++;
            sp = strchr(a, ' ');
            *sp = '\0';

            if (strcmp(a, "-") != 0) {
                d.error_type = arg(a);
            }

            d.error_message = arg(sp + 1);

        } else if (strcmp(line, "DONE") == 0) {
            d.type = NGX_HTTP_LLM_DELTA_DONE;

        } else {
            continue;
        }

        if (emit(&d)) {
            return 1;
        }
    }

    print_chain(out);

    return 0;
}


/* -- stream, completion: recordings through the OpenAI adapter ------------ */


static ngx_int_t
adapter_event(ngx_str_t *name, ngx_str_t *data)
{
    return req_pc.type->stream_event(&req_r, &req_ctx, name, data, &last);
}


static int
mode_stream(char *file)
{
    u_char              *p, *q, *end;
    FILE                *f;
    ngx_int_t            rc;
    ngx_str_t            all, ev, name;
    ngx_http_llm_sse_t   sse;

    f = fopen(file, "r");

    if (f == NULL) {
        perror(file);
        return 1;
    }

    all = slurp(f);
    fclose(f);

    req_ctx.req = ngx_http_llm_request_create(req_r.pool);
    req_ctx.req->stream = 1;
    req_ctx.req->include_usage = 1;
    req_ctx.stream = 1;

    end = all.data + all.len;
    rc = NGX_OK;

    if (strstr(file, ".chunks.txt")) {

        /* one payload a line */

        for (p = all.data; p < end && rc == NGX_OK; p = q + 1) {
            q = memchr(p, '\n', end - p);

            if (q == NULL) {
                q = end;
            }

            ev.data = p;
            ev.len = (q > p && q[-1] == '\r') ? q - p - 1 : q - p;

            ngx_str_null(&name);

            if (ev.len) {
                rc = adapter_event(&name, &ev);
            }
        }

    } else {
        ngx_http_llm_sse_init(&sse, req_r.pool, &req_log, 1 << 20);

        p = all.data;

        while (p < end && rc == NGX_OK) {
            rc = ngx_http_llm_sse_parse(&sse, &p, end);

            if (rc == NGX_AGAIN) {
                rc = NGX_OK;
                break;
            }

            if (rc == NGX_OK) {
                name.data = sse.name;
                name.len = sse.has_event ? sse.name_len : 0;
                ev.data = sse.data;
                ev.len = sse.len;
                rc = adapter_event(&name, &ev);
            }
        }
    }

    /* the end of the upstream body: the adapter's last call */

    if (rc == NGX_OK) {
        rc = req_pc.type->stream_event(&req_r, &req_ctx, NULL, NULL, &last);
    }

    if (rc != NGX_OK) {
        printf("error\n");
        return 1;
    }

    print_chain(out);

    return 0;
}


static int
mode_completion(char *file)
{
    FILE       *f;
    ngx_int_t   rc;
    ngx_str_t   all;

    f = fopen(file, "r");

    if (f == NULL) {
        perror(file);
        return 1;
    }

    all = slurp(f);
    fclose(f);

    req_ctx.req = ngx_http_llm_request_create(req_r.pool);
    req_ctx.req->include_usage = 1;

    rc = req_pc.type->response(&req_r, &req_ctx, &all, &out);

    if (rc != NGX_OK) {
        printf(rc == NGX_DECLINED ? "declined\n" : "error\n");
        return 1;
    }

    print_chain(out);
    printf("\n");

    return 0;
}


int
main(int argc, char **argv)
{
    srandom(1);

    init();

    /* "stream FILE anthropic": a recording of an Anthropic provider */

    if (argc >= 4 && strcmp(argv[3], "anthropic") == 0) {
        req_pc.type = &ngx_http_llm_provider_anthropic;
    }

    if (argc >= 2 && strcmp(argv[1], "request") == 0) {
        return mode_request();
    }

    if (argc >= 2 && strcmp(argv[1], "response") == 0) {
        return mode_response();
    }

    if (argc >= 2 && strcmp(argv[1], "deltas") == 0) {
        return mode_deltas();
    }

    if (argc >= 3 && strcmp(argv[1], "stream") == 0) {
        return mode_stream(argv[2]);
    }

    if (argc >= 3 && strcmp(argv[1], "completion") == 0) {
        return mode_completion(argv[2]);
    }

    fprintf(stderr, "usage: %s request|response|deltas|stream FILE"
            "|completion FILE\n", argv[0]);

    return 2;
}
