
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_handler.h"
#include "ngx_http_llm_upstream.h"
#include "ngx_http_llm_strategy.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_error.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_sse.h"
#include "ngx_http_llm_eventstream.h"
#include "ngx_http_llm_fallback.h"
#include "ngx_http_llm_limit.h"

#include <zlib.h>


/* response parsing states, ctx->rstate */
#define NGX_HTTP_LLM_RS_STATUS   0
#define NGX_HTTP_LLM_RS_HEADERS  1
#define NGX_HTTP_LLM_RS_BODY     2
#define NGX_HTTP_LLM_RS_FIRST    3      /* a stream, held until its first
                                           event: a fallback may answer */


/* ctx->encoding: what the provider sent though identity was asked for */
#define NGX_HTTP_LLM_ENC_GZIP     1
#define NGX_HTTP_LLM_ENC_DEFLATE  2

/*
 * A compressed stream is decoded piece by piece; it may not decode to
 * more than NGX_HTTP_LLM_INFLATE_RATIO times its compressed size (plus
 * NGX_HTTP_LLM_INFLATE_SLACK), so that one read of a gzip bomb cannot
 * turn into megabytes of output.  A held body is capped by
 * llm_max_response_size instead.
 */
#define NGX_HTTP_LLM_INFLATE_RATIO  100
#define NGX_HTTP_LLM_INFLATE_SLACK  65536
#define NGX_HTTP_LLM_INFLATE_BUF    8192


typedef struct {
    z_stream                  zs;
    ngx_uint_t                encoding;
    off_t                     in;       /* compressed bytes so far */
    off_t                     out;      /* decoded bytes so far */
    u_char                   *buf;      /* a stream's decoded piece */
    unsigned                  raw:1;    /* deflate without zlib header */
    unsigned                  end:1;    /* at the end of a member */
} ngx_http_llm_inflate_t;


static ngx_int_t ngx_http_llm_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_process_headers(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_stream_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_first_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_first_check(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_sse_t *sse);
static ngx_int_t ngx_http_llm_hold_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static size_t ngx_http_llm_max_response(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_hold_append(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *p, size_t n);
static ngx_int_t ngx_http_llm_finish_held(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_map_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body);
static ngx_int_t ngx_http_llm_redact_key(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *message);
static ngx_int_t ngx_http_llm_inflate_init(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_inflate_cleanup(void *data);
static ngx_int_t ngx_http_llm_inflate(ngx_http_request_t *r,
    ngx_http_llm_inflate_t *inf, u_char **pos, u_char *last, u_char *out,
    size_t size, size_t *n);
static ngx_int_t ngx_http_llm_inflate_held(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_feed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *p, u_char *last, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_input_filter_init(void *data);
static ngx_int_t ngx_http_llm_input_filter(void *data, ssize_t bytes);
static ngx_int_t ngx_http_llm_feed_sse(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *p, u_char *last, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_feed_es(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *p, u_char *last, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_stream_end(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_stream_fail(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_int_t status, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_responses_fail(ngx_http_request_t *r,
    ngx_str_t *message, ngx_chain_t ***ll);
static void ngx_http_llm_abort_request(ngx_http_request_t *r);
static void ngx_http_llm_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_llm_add_header(ngx_http_request_t *r,
    ngx_list_t *headers, const char *key, ngx_str_t *value);
static ngx_msec_t ngx_http_llm_first_token(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_attempt_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_attempt_expired(ngx_event_t *ev);
static void ngx_http_llm_attempt_cleanup(void *data);


/* upstream response headers passed on to the client */

static ngx_str_t  ngx_http_llm_pass_headers[] = {
    ngx_string("x-request-id"),
    ngx_string("openai-processing-ms"),
    ngx_string("retry-after"),
    ngx_null_string
};


void
ngx_http_llm_upstream_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_http_upstream_t      *u;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    u = r->upstream;

    if (ngx_http_llm_upstream_conf(r, ctx,
                                   &llcf->per_provider[ctx->provider->index])
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

#if (NGX_HTTP_SSL)
    u->ssl = ctx->provider->tls;
#endif

    if (ctx->provider->tls) {
        ngx_str_set(&u->schema, "https://");

    } else {
        ngx_str_set(&u->schema, "http://");
    }

    u->output.tag = (ngx_buf_tag_t) &ngx_http_llm_module;

    u->create_request = ngx_http_llm_create_request;
    u->reinit_request = ngx_http_llm_reinit_request;
    u->process_header = ngx_http_llm_process_header;
    u->abort_request = ngx_http_llm_abort_request;
    u->finalize_request = ngx_http_llm_finalize_request;

    u->buffering = 0;

    u->input_filter_init = ngx_http_llm_input_filter_init;
    u->input_filter = ngx_http_llm_input_filter;
    u->input_filter_ctx = r;

    ctx->start_msec = ngx_current_msec;

    /*
     * a route with fallbacks: the request starts in an upstream{} of
     * the module's, whose peer moves between the targets' upstream{}s
     */

    if (ctx->route && ctx->route->targets.nelts > ctx->route->nprimary
        && llcf->fallback_provider && !ctx->count_tokens)
    {
        if (ngx_http_llm_fallback_prepare(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        u->conf = &llcf->fallback_init;

    } else {
        ctx->attempts = 1;
    }

    ngx_http_upstream_init(r);
}


static ngx_int_t
ngx_http_llm_create_request(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_chain_t         *cl;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    rc = ctx->provider->type->create_request(r, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_llm_attempt_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * as in proxy: the request is flushed once written, or it may stay
     * in the SSL buffer of a keepalive connection, with no event left
     * to send it
     */

    for (cl = r->upstream->request_bufs; cl; cl = cl->next) {
        if (cl->next == NULL) {
            cl->buf->flush = 1;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_reinit_request(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (ctx == NULL) {
        return NGX_OK;
    }

    ctx->rstate = NGX_HTTP_LLM_RS_STATUS;
    ctx->status.code = 0;
    ctx->status.count = 0;
    ctx->status.start = NULL;
    ctx->status.end = NULL;
    ctx->hold = NULL;
    ctx->out = NULL;
    ctx->chunked_in = 0;
    ctx->encoding = 0;
    ctx->inflate = NULL;
    ngx_memzero(&ctx->chunked, sizeof(ngx_http_chunked_t));
    ngx_memzero(&ctx->usage, sizeof(ngx_http_llm_usage_t));

    /* nothing reached the client yet: translation starts over */

    ctx->stream_ended = 0;
    ctx->stream_failed = 0;
    ctx->generated = 0;
    ctx->usage_final = 0;
    ctx->in_state = NULL;
    ctx->out_state = NULL;

    /* nginx's own error, if the next server fails, is replaced again */

    ctx->own_response = 0;
    ctx->upstream_status = 0;

    ctx->done = 0;
    ctx->fallback_next = 0;

    r->upstream->process_header = ngx_http_llm_process_header;
    r->state = 0;

    /* another target: its URI, headers and body, maybe translated */

    rc = ngx_http_llm_fallback_reinit(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        return ngx_http_llm_create_request(r);
    }

    /* the same request, another attempt: its timers start again */

    if (ctx->conf) {
        ctx->conf->read_timeout = ngx_http_llm_first_token(r);
    }

    return ngx_http_llm_attempt_start(r, ctx);
}


ngx_int_t
ngx_http_llm_upstream_conf(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_upstream_conf_t *conf)
{
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    if (llcf->first_token_timeout == 0) {
        r->upstream->conf = conf;
        return NGX_OK;
    }

    if (ctx->conf == NULL) {
        ctx->conf = ngx_palloc(r->pool, sizeof(ngx_http_upstream_conf_t));
        if (ctx->conf == NULL) {
            return NGX_ERROR;
        }
    }

    *ctx->conf = *conf;
    ctx->conf->read_timeout = llcf->first_token_timeout;

    r->upstream->conf = ctx->conf;

    return NGX_OK;
}


static ngx_msec_t
ngx_http_llm_first_token(ngx_http_request_t *r)
{
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    return llcf->first_token_timeout ? llcf->first_token_timeout
                                     : llcf->upstream.read_timeout;
}


/*
 * llm_attempt_timeout: the attempt's deadline, from the moment its
 * request is built.  When it passes, the upstream connection's pending
 * event is made to time out, as if its own timer had fired: before the
 * answer, nginx tries the next server or target; in a stream, the
 * client's stream ends with an error event.
 */

static ngx_int_t
ngx_http_llm_attempt_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_event_t              *ev;
    ngx_pool_cleanup_t       *cln;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    if (llcf->attempt_timeout == 0) {
        return NGX_OK;
    }

    ev = ctx->attempt_timer;

    if (ev == NULL) {
        ev = ngx_pcalloc(r->pool, sizeof(ngx_event_t));
        if (ev == NULL) {
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        ev->handler = ngx_http_llm_attempt_expired;
        ev->data = r;
        ev->log = r->connection->log;

        cln->handler = ngx_http_llm_attempt_cleanup;
        cln->data = ev;

        ctx->attempt_timer = ev;
    }

    ngx_add_timer(ev, llcf->attempt_timeout);

    return NGX_OK;
}


static void
ngx_http_llm_attempt_expired(ngx_event_t *ev)
{
    ngx_event_t          *uev;
    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_http_upstream_t  *u;

    r = ev->data;
    u = r->upstream;

    if (u == NULL || u->peer.connection == NULL) {
        return;
    }

    c = u->peer.connection;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llm attempt took longer than llm_attempt_timeout");

    /* connecting or sending: the write event; else the read event */

    uev = (u->request_body_sent || c->read->timer_set) ? c->read : c->write;

    if (uev->timer_set) {
        ngx_del_timer(uev);
    }

    uev->timedout = 1;
    uev->handler(uev);
}


static void
ngx_http_llm_attempt_cleanup(void *data)
{
    ngx_event_t  *ev = data;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }
}


static ngx_int_t
ngx_http_llm_process_header(ngx_http_request_t *r)
{
    u_char                *p;
    size_t                 len;
    ngx_int_t              rc;
    ngx_str_t                 attempts;
    ngx_http_upstream_t      *u;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *llcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);
    u = r->upstream;

    if (ctx->rstate == NGX_HTTP_LLM_RS_FIRST) {
        goto first;
    }

    if (ctx->rstate == NGX_HTTP_LLM_RS_STATUS) {

        rc = ngx_http_parse_status_line(r, &u->buffer, &ctx->status);

        if (rc == NGX_AGAIN) {
            return rc;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "upstream sent no valid HTTP/1.0 header");
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        if (u->state && u->state->status == 0) {
            u->state->status = ctx->status.code;
        }

        u->headers_in.status_n = ctx->status.code;
        ctx->upstream_status = ctx->status.code;

        len = ctx->status.end - ctx->status.start;
        u->headers_in.status_line.len = len;
        u->headers_in.status_line.data = ngx_pnalloc(r->pool, len);
        if (u->headers_in.status_line.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(u->headers_in.status_line.data, ctx->status.start, len);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "http llm status %ui \"%V\"",
                       u->headers_in.status_n, &u->headers_in.status_line);

        if (ctx->status.http_version < NGX_HTTP_VERSION_11) {
            u->headers_in.connection_close = 1;
        }

        ctx->rstate = NGX_HTTP_LLM_RS_HEADERS;
    }

    if (ctx->rstate == NGX_HTTP_LLM_RS_HEADERS) {
        rc = ngx_http_llm_process_headers(r, ctx);

        if (rc != NGX_OK) {
            return rc;
        }

        if (ctx->first_byte_msec == 0) {
            ctx->first_byte_msec = ngx_current_msec;
        }

        if (ctx->encoding && ngx_http_llm_inflate_init(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        /* a successful stream goes to the client event by event */

        /* AWS event-stream frames (Bedrock) are decoded into events */

        ctx->eventstream = (ctx->stream
            && u->headers_in.content_type
            && ngx_strlcasestrn(u->headers_in.content_type->value.data,
                                u->headers_in.content_type->value.data
                                + u->headers_in.content_type->value.len,
                                (u_char *) "application/vnd.amazon.eventstream",
                                34 - 1));

        if (ctx->stream
            && u->headers_in.status_n >= 200 && u->headers_in.status_n < 300
            && u->headers_in.content_type
            && (ctx->eventstream
                || ngx_strlcasestrn(u->headers_in.content_type->value.data,
                                    u->headers_in.content_type->value.data
                                    + u->headers_in.content_type->value.len,
                                    (u_char *) "text/event-stream", 17 - 1)))
        {
            /*
             * with a fallback left, the header waits for the first
             * event: a provider that fails before it (an error event,
             * invalid JSON, silence, a reset) leaves the client nothing
             * to undo
             */

            if (!ctx->eventstream && !ctx->encoding && ctx->fallback
                && ngx_http_llm_fallback_next(r, ctx))
            {
                ctx->rstate = NGX_HTTP_LLM_RS_FIRST;
                ctx->hold_end = u->buffer.pos;      /* the body seen */
                goto first;
            }

            goto stream;
        }

        /* everything else is held whole, then translated */

        ctx->rstate = NGX_HTTP_LLM_RS_BODY;
        ctx->rest = u->headers_in.content_length_n;
        ctx->chunked_in = u->headers_in.chunked;

        /* the body is decoded in place while it fits in u->buffer */

        ctx->inplace = 1;
        ctx->hold_start = u->buffer.pos;
        ctx->hold_end = u->buffer.pos;

        if (!ctx->chunked_in && ctx->rest == -1) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "upstream sent a response without length");
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }
    }

    rc = ngx_http_llm_hold_body(r, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ctx->inflate) {
        rc = ngx_http_llm_inflate_held(r, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_llm_finish_held(r, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    /*
     * Bytes left in u->buffer make nginx call the input filter (which
     * sends the built body) right after the header instead of flushing
     * the header alone: one write for both.  They are the body itself
     * when it was kept in place, else one byte of whatever is there.
     */

    if (ctx->inplace && ctx->hold_end > ctx->hold_start) {
        u->buffer.pos = ctx->hold_start;
        u->buffer.last = ctx->hold_end;

    } else {
        u->buffer.pos = u->buffer.start;
        u->buffer.last = u->buffer.start + 1;
    }

    goto done;

first:

    if (u->buffer.last > ctx->hold_end) {
        /*
         * more of the body (a keep-alive comment, a part of an event):
         * llm_read_timeout from now on, as in a stream that goes on
         */

        ctx->hold_end = u->buffer.last;

        llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

        if (ctx->conf) {
            ctx->conf->read_timeout = llcf->upstream.read_timeout;
        }

        if (u->peer.connection) {
            /* not lazily: the new deadline may be nearer than 300 ms */

            if (u->peer.connection->read->timer_set) {
                ngx_del_timer(u->peer.connection->read);
            }

            ngx_add_timer(u->peer.connection->read, u->conf->read_timeout);
        }
    }

    rc = ngx_http_llm_first_event(r, ctx);

    if (rc == NGX_AGAIN || rc == NGX_ERROR) {
        return rc;
    }

    if (rc == NGX_DECLINED && ngx_http_llm_fallback_next(r, ctx)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llm provider \"%V\" began its stream with an error "
                      "or an invalid event, trying the next target",
                      &ctx->provider->name);
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

stream:

    if (ngx_http_llm_stream_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

done:

    /*
     * as the upstream's own headers: ngx_http_upstream_reinit() drops
     * them when the request goes to the next server
     */

    if (ngx_http_llm_add_header(r, &u->headers_in.headers, "X-LLM-Provider",
                                &ctx->provider->name)
        != NGX_OK
        || ngx_http_llm_add_header(r, &u->headers_in.headers, "X-LLM-Model",
                                   &ctx->upstream_model)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->fallback) {
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        attempts.data = p;
        attempts.len = ngx_sprintf(p, "%ui", ctx->attempts) - p;

        if (ngx_http_llm_add_header(r, &u->headers_in.headers,
                                    "X-LLM-Attempts", &attempts)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a successful stream goes to the client event by event */

static ngx_int_t
ngx_http_llm_stream_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    ctx->streaming = 1;

    /* the client gets chunked framing; the length stays ours */

    ctx->rest = u->headers_in.content_length_n;

    u->headers_in.status_n = NGX_HTTP_OK;
    u->headers_in.content_length_n = -1;
    ngx_str_set(&u->headers_in.status_line, "200 OK");

    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_llm_add_header(r, &r->headers_out.headers, "Cache-Control",
                                &(ngx_str_t) ngx_string("no-cache"))
        != NGX_OK
        || ngx_http_llm_add_header(r, &r->headers_out.headers,
                                   "X-Accel-Buffering",
                                   &(ngx_str_t) ngx_string("no"))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The body of a stream read so far, from its start in u->buffer (nothing
 * is consumed: the input filter reads it all again), parsed up to its
 * first event.  NGX_OK: a first event that starts an answer, or no
 * point in waiting (u->buffer full); NGX_DECLINED: the stream begins
 * with an error, invalid JSON, or ends at once; NGX_AGAIN: no event yet.
 */

static ngx_int_t
ngx_http_llm_first_event(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                   *p, *last;
    size_t                    n;
    off_t                     rest;
    ngx_int_t                 rc;
    ngx_buf_t                 b;
    ngx_http_chunked_t        ch;
    ngx_http_llm_sse_t        sse;
    ngx_http_upstream_t      *u;
    ngx_http_llm_loc_conf_t  *llcf;

    u = r->upstream;
    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    b = u->buffer;
    rest = u->headers_in.content_length_n;

    ngx_memzero(&ch, sizeof(ngx_http_chunked_t));
    ngx_http_llm_sse_init(&sse, r->pool, r->connection->log,
                          llcf->max_event_size);

    for ( ;; ) {

        if (u->headers_in.chunked) {
            rc = ngx_http_llm_parse_chunked(r, &b, &ch);

            if (rc == NGX_AGAIN) {
                break;
            }

            if (rc != NGX_OK) {
                /* the last chunk before any event, or invalid framing */
                return NGX_DECLINED;
            }

            p = b.pos;
            n = ngx_min((off_t) (b.last - b.pos), ch.size);
            ch.size -= n;

        } else {
            p = b.pos;
            n = b.last - b.pos;

            if (rest >= 0 && (off_t) n > rest) {
                n = rest;
            }

            if (n == 0) {
                if (rest == 0) {
                    return NGX_DECLINED;
                }

                break;
            }

            rest -= (rest >= 0) ? (off_t) n : 0;
        }

        b.pos = p + n;
        last = p + n;

        while (p < last) {
            rc = ngx_http_llm_sse_parse(&sse, &p, last);

            if (rc == NGX_AGAIN) {
                break;
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DECLINED) {
                /* too large: the input filter ends the stream */
                return NGX_OK;
            }

            if (sse.len == 0) {
                continue;
            }

            return ngx_http_llm_first_check(r, ctx, &sse);
        }
    }

    /* no event yet: wait for more, while u->buffer can take it */

    return (u->buffer.last == u->buffer.end) ? NGX_OK : NGX_AGAIN;
}


/* the first event: an error ({"error":...}, "type":"error"), or not JSON */

static ngx_int_t
ngx_http_llm_first_check(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_sse_t *sse)
{
    if (sse->has_event && sse->name_len == sizeof("error") - 1
        && ngx_memcmp(sse->name, "error", sse->name_len) == 0)
    {
        return NGX_DECLINED;
    }

    /* "[DONE]" first is no answer either */

    return ngx_http_llm_json_error_object(sse->data, sse->len) == NGX_OK
           ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_llm_process_headers(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                      *ph;
    ngx_table_elt_t                *h;
    ngx_http_upstream_t            *u;
    ngx_http_upstream_header_t     *hh;
    ngx_http_upstream_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_module);
    u = r->upstream;

    for ( ;; ) {

        rc = ngx_http_parse_header_line(r, &u->buffer, 1);

        if (rc == NGX_OK) {

            /*
             * only the headers listed in ngx_http_llm_pass_headers reach
             * the client; the rest are parsed for framing and dropped
             */

            for (ph = ngx_http_llm_pass_headers; ph->len; ph++) {
                if ((size_t) (r->header_name_end - r->header_name_start)
                    == ph->len
                    && ngx_strncasecmp(r->header_name_start, ph->data,
                                       ph->len) == 0)
                {
                    break;
                }
            }

            if (ph->len) {
                h = ngx_list_push(&u->headers_in.headers);

            } else {
                h = ngx_palloc(r->pool, sizeof(ngx_table_elt_t));
            }

            if (h == NULL) {
                return NGX_ERROR;
            }

            h->hash = r->header_hash;

            h->key.len = r->header_name_end - r->header_name_start;
            h->value.len = r->header_end - r->header_start;

            h->key.data = ngx_pnalloc(r->pool,
                               h->key.len + 1 + h->value.len + 1 + h->key.len);
            if (h->key.data == NULL) {
                h->hash = 0;
                return NGX_ERROR;
            }

            h->value.data = h->key.data + h->key.len + 1;
            h->lowcase_key = h->key.data + h->key.len + 1 + h->value.len + 1;

            ngx_memcpy(h->key.data, r->header_name_start, h->key.len);
            h->key.data[h->key.len] = '\0';
            ngx_memcpy(h->value.data, r->header_start, h->value.len);
            h->value.data[h->value.len] = '\0';

            if (h->key.len == r->lowcase_index) {
                ngx_memcpy(h->lowcase_key, r->lowcase_header, h->key.len);

            } else {
                ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
            }

#if (nginx_version >= 1023000)
            h->next = NULL;
#endif

            /*
             * identity was asked for; gzip and deflate are decoded
             * anyway, anything else cannot be parsed
             */

            if (h->key.len == sizeof("Content-Encoding") - 1
                && ngx_memcmp(h->lowcase_key, "content-encoding",
                               sizeof("Content-Encoding") - 1) == 0)
            {
                if (ngx_strcasecmp(h->value.data, (u_char *) "gzip") == 0
                    || ngx_strcasecmp(h->value.data, (u_char *) "x-gzip")
                       == 0)
                {
                    ctx->encoding = NGX_HTTP_LLM_ENC_GZIP;

                } else if (ngx_strcasecmp(h->value.data,
                                          (u_char *) "deflate")
                           == 0)
                {
                    ctx->encoding = NGX_HTTP_LLM_ENC_DEFLATE;

                } else if (ngx_strcasecmp(h->value.data,
                                          (u_char *) "identity")
                           != 0)
                {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "upstream sent a compressed response "
                                  "(\"%V\") though identity was requested",
                                  &h->value);
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }

                /* the client gets the decoded body: not passed on */

                continue;
            }

            hh = ngx_hash_find(&umcf->headers_in_hash, h->hash,
                               h->lowcase_key, h->key.len);

            if (hh) {
                rc = hh->handler(r, h, hh->offset);

                if (rc != NGX_OK) {
                    return rc;
                }
            }

            continue;
        }

        if (rc == NGX_HTTP_PARSE_HEADER_DONE) {

            if (u->headers_in.chunked) {
                u->headers_in.content_length_n = -1;
            }

            return NGX_OK;
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        /* rc == NGX_HTTP_PARSE_INVALID_HEADER */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upstream sent invalid header");

        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }
}


/*
 * Collects the response body, decoding chunked framing.  While the body
 * fits in u->buffer it is kept there, decoded in place (most answers:
 * no copy); when the buffer fills up it moves to ctx->hold, so that
 * u->buffer can take more.  NGX_AGAIN until the whole body is there.
 */

static ngx_int_t
ngx_http_llm_hold_body(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    size_t                n;
    ngx_int_t             rc;
    ngx_buf_t            *buf;
    ngx_http_upstream_t  *u;

    u = r->upstream;
    buf = &u->buffer;

    for ( ;; ) {

        if (ctx->chunked_in) {
            rc = ngx_http_llm_parse_chunked(r, buf, &ctx->chunked);

            if (rc == NGX_OK) {
                n = ngx_min((off_t) (buf->last - buf->pos),
                            ctx->chunked.size);
                ctx->chunked.size -= n;

            } else if (rc == NGX_DONE) {

                if (buf->pos != buf->last) {
                    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                                  "upstream sent data after final chunk");
                    u->headers_in.connection_close = 1;
                }

                break;

            } else if (rc == NGX_AGAIN) {
                goto again;

            } else {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "upstream sent invalid chunked response");

                return NGX_HTTP_UPSTREAM_INVALID_HEADER;
            }

        } else {
            n = ngx_min((off_t) (buf->last - buf->pos), ctx->rest);
            ctx->rest -= n;
        }

        if (ctx->inplace) {
            if (ctx->hold_end != buf->pos) {
                ngx_memmove(ctx->hold_end, buf->pos, n);
            }

            ctx->hold_end += n;

            if ((size_t) (ctx->hold_end - ctx->hold_start)
                > ngx_http_llm_max_response(r))
            {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "upstream sent too large response: more "
                              "than %uz bytes (llm_max_response_size)",
                              ngx_http_llm_max_response(r));
                return NGX_HTTP_UPSTREAM_INVALID_HEADER;
            }

        } else if (ngx_http_llm_hold_append(r, ctx, buf->pos, n) != NGX_OK) {
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        buf->pos += n;

        if (!ctx->chunked_in) {

            if (ctx->rest > 0) {
                goto again;
            }

            if (buf->pos != buf->last) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "upstream sent more data than specified in "
                              "\"Content-Length\" header");
                u->headers_in.connection_close = 1;
            }

            break;
        }
    }

    /* the whole body is there */

    u->keepalive = !u->headers_in.connection_close;

    return NGX_OK;

again:

    /* everything read so far is consumed; more is to come */

    if (!ctx->inplace) {
        buf->pos = buf->start;
        buf->last = buf->start;
        return NGX_AGAIN;
    }

    if (buf->last == buf->end) {

        /* the buffer is full: the body moves out to ctx->hold */

        ctx->inplace = 0;

        if (ngx_http_llm_hold_append(r, ctx, ctx->hold_start,
                                     ctx->hold_end - ctx->hold_start)
            != NGX_OK)
        {
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        buf->pos = buf->start;
        buf->last = buf->start;
    }

    return NGX_AGAIN;
}


static size_t
ngx_http_llm_max_response(ngx_http_request_t *r)
{
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    return llcf->max_response_size;
}


static ngx_int_t
ngx_http_llm_hold_append(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *p, size_t n)
{
    size_t                    size, need;
    ngx_buf_t                *b;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    b = ctx->hold;

    need = (b ? (size_t) (b->last - b->pos) : 0) + n;

    if (need > llcf->max_response_size) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upstream sent too large response: more than %uz "
                      "bytes (llm_max_response_size)",
                      llcf->max_response_size);
        return NGX_ERROR;
    }

    if (b == NULL || (size_t) (b->end - b->last) < n) {

        size = b ? (size_t) (b->end - b->start) * 2 : 0;

        if (size < need) {
            size = need;
        }

        if (b == NULL && r->upstream->headers_in.content_length_n > 0
            && size < (size_t) r->upstream->headers_in.content_length_n)
        {
            size = (size_t) r->upstream->headers_in.content_length_n;
        }

        if (size < 4096) {
            size = 4096;
        }

        if (size > llcf->max_response_size) {
            size = llcf->max_response_size;
        }

        b = ngx_create_temp_buf(r->pool, size);
        if (b == NULL) {
            return NGX_ERROR;
        }

        if (ctx->hold) {
            b->last = ngx_cpymem(b->last, ctx->hold->pos,
                                 ctx->hold->last - ctx->hold->pos);
            ngx_pfree(r->pool, ctx->hold->start);
        }

        ctx->hold = b;
    }

    if (n) {
        b->last = ngx_cpymem(b->last, p, n);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_finish_held(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    off_t                 len;
    ngx_int_t             rc;
    ngx_str_t             body;
    ngx_chain_t          *cl;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (ctx->inplace) {
        body.data = ctx->hold_start;
        body.len = ctx->hold_end - ctx->hold_start;

    } else if (ctx->hold) {
        body.data = ctx->hold->pos;
        body.len = ctx->hold->last - ctx->hold->pos;

    } else {
        ngx_str_null(&body);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm held response %ui, %uz bytes",
                   u->headers_in.status_n, body.len);

    if (u->headers_in.status_n >= 200 && u->headers_in.status_n < 300
        && !ctx->stream)
    {
        rc = ctx->provider->type->response(r, ctx, &body, &ctx->out);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {

            /* not an answer: invalid JSON, or an error with a 200 */

            if (ctx->fallback && ngx_http_llm_fallback_next(r, ctx)) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "llm provider \"%V\" sent an invalid %ui "
                              "response, trying the next target",
                              &ctx->provider->name, u->headers_in.status_n);
                return NGX_HTTP_UPSTREAM_INVALID_HEADER;
            }

            rc = ngx_http_llm_map_error(r, ctx, &body);

            if (rc != NGX_OK) {
                return rc;
            }

        } else {
            u->headers_in.status_n = NGX_HTTP_OK;
            ngx_str_set(&u->headers_in.status_line, "200 OK");
        }

    } else if (ctx->count_tokens && u->headers_in.status_n == 400
               && ctx->provider->type == &ngx_http_llm_provider_bedrock)
    {
        /*
         * Bedrock counts tokens for some models only (not Nova, not
         * inference profiles): a 400 there gets the estimate, flagged
         */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm provider \"%V\" did not count tokens (400): "
                      "estimated", &ctx->provider->name);

        ctx->out = ngx_http_llm_count_estimate(r, ctx);
        if (ctx->out == NULL) {
            return NGX_ERROR;
        }

        u->headers_in.status_n = NGX_HTTP_OK;
        ngx_str_set(&u->headers_in.status_line, "200 OK");

    } else {

        /* a fallback may answer instead: nothing was sent yet */

        if (ctx->fallback) {
            rc = ngx_http_llm_fallback_status(r, ctx, &body);

            if (rc != NGX_DECLINED) {
                return rc;
            }
        }

        rc = ngx_http_llm_map_error(r, ctx, &body);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    len = 0;

    for (cl = ctx->out; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    u->headers_in.content_length_n = len;
    u->headers_in.chunked = 0;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    ctx->own_response = 1;

    return NGX_OK;
}


/*
 * A provider's error message that quotes the gateway's own key (a proxy
 * in between, a provider echoing the request): the key is replaced by
 * "[redacted]" before the message goes to the client
 */

static ngx_int_t
ngx_http_llm_redact_key(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *message)
{
    u_char     *p, *q, *last, *out;
    ngx_str_t  *key;

    key = &ctx->provider->key;

    if (key->len < 8 || message->len < key->len) {
        return NGX_OK;
    }

    last = message->data + message->len;

    p = ngx_strlcasestrn(message->data, last, key->data, key->len - 1);

    if (p == NULL) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm provider \"%V\" quoted the configured key in its "
                  "error message: redacted", &ctx->provider->name);

    out = ngx_pnalloc(r->pool, message->len + (message->len / key->len)
                                             * (sizeof("[redacted]") - 1));
    if (out == NULL) {
        return NGX_ERROR;
    }

    q = out;

    for (p = message->data; p < last; /* void */) {
        if ((size_t) (last - p) >= key->len
            && ngx_strncasecmp(p, key->data, key->len) == 0)
        {
            q = ngx_cpymem(q, "[redacted]", sizeof("[redacted]") - 1);
            p += key->len;
            continue;
        }

        *q++ = *p++;
    }

    message->data = out;
    message->len = q - out;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_map_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body)
{
    ngx_int_t             rc;
    ngx_str_t             message, type, code;
    ngx_uint_t            status, auth, level;
    ngx_http_upstream_t  *u;

    u = r->upstream;
    status = u->headers_in.status_n;
    auth = 0;

    ngx_str_null(&message);
    ngx_str_null(&type);
    ngx_str_null(&code);

    if (status >= 200 && status < 300) {

        /* a stream asked for and a JSON body came back, or an error */

        rc = ctx->provider->type->error(r, ctx, body, &message, &type,
                                        &code);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK && ctx->stream) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "upstream answered a stream request with a "
                          "non-stream response");
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "upstream sent invalid JSON in a %ui response",
                          status);
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        status = NGX_HTTP_BAD_GATEWAY;

    } else {
        rc = ctx->provider->type->error(r, ctx, body, &message, &type,
                                        &code);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    switch (status) {

    case NGX_HTTP_UNAUTHORIZED:
    case NGX_HTTP_FORBIDDEN:

        /*
         * the provider rejected the gateway's own credentials: that is
         * not the client's fault, and the message may quote the key
         */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" rejected the configured key "
                      "(status %ui)", &ctx->provider->name, status);

        auth = 1;
        status = NGX_HTTP_BAD_GATEWAY;
        ngx_str_set(&message, "The model provider rejected the gateway's "
                              "credentials.");
        ngx_str_set(&type, "api_error");
        ngx_str_set(&code, "upstream_auth_error");
        break;

    case 529:
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        break;

    default:
        if (status < 400 || status > 599) {
            status = NGX_HTTP_BAD_GATEWAY;
        }
    }

    if (!auth) {
        level = (status >= 500) ? NGX_LOG_ERR : NGX_LOG_WARN;

        ngx_log_error(level, r->connection->log, 0,
                      "llm provider \"%V\" answered %ui",
                      &ctx->provider->name, ctx->upstream_status);
    }

    if (message.len == 0) {
        ngx_str_set(&message, "The model provider returned an error.");

    } else if (ngx_http_llm_redact_key(r, ctx, &message) != NGX_OK) {
        return NGX_ERROR;
    }

    if (type.len == 0) {
        if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
            ngx_str_set(&type, "rate_limit_error");

        } else if (status >= 500) {
            ngx_str_set(&type, "api_error");

        } else {
            ngx_str_set(&type, "invalid_request_error");
        }
    }

    ctx->out = ngx_http_llm_error_chain(r, status, &type, &code, &message);
    if (ctx->out == NULL) {
        return NGX_ERROR;
    }

    ctx->out->buf->last_buf = 0;
    ctx->out->buf->last_in_chain = 0;
    ctx->out->buf->tag = u->output.tag;

    u->headers_in.status_n = status;
    u->headers_in.status_line.len = 0;
    u->headers_in.status_line.data = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_inflate_init(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_llm_inflate_t  *inf;

    if (ctx->inflate) {
        return NGX_OK;
    }

    inf = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_inflate_t));
    if (inf == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    inf->encoding = ctx->encoding;

    /* gzip, or zlib: both recognized by their header */

    if (inflateInit2(&inf->zs, MAX_WBITS + 32) != Z_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "inflateInit2() failed");
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llm_inflate_cleanup;
    cln->data = inf;

    ctx->inflate = inf;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm upstream body is compressed: %ui",
                   inf->encoding);

    return NGX_OK;
}


static void
ngx_http_llm_inflate_cleanup(void *data)
{
    ngx_http_llm_inflate_t  *inf = data;

    inflateEnd(&inf->zs);
}


/*
 * Decodes from [*pos, last) into [out, out + size), *n bytes.  NGX_OK:
 * call again, more may come out; NGX_AGAIN: the input is used up;
 * NGX_ERROR: invalid data, logged.  Members one after another (gzip)
 * are decoded one after another.
 */

static ngx_int_t
ngx_http_llm_inflate(ngx_http_request_t *r, ngx_http_llm_inflate_t *inf,
    u_char **pos, u_char *last, u_char *out, size_t size, size_t *n)
{
    int        rc;
    u_char    *start;
    z_stream  *zs;

    zs = &inf->zs;
    start = *pos;
    *n = 0;

    if (inf->end) {
        if (start == last) {
            return NGX_AGAIN;
        }

        /* another member */

        if (inflateReset(zs) != Z_OK) {
            return NGX_ERROR;
        }

        inf->end = 0;
    }

    zs->next_in = start;
    zs->avail_in = last - start;
    zs->next_out = out;
    zs->avail_out = size;

    rc = inflate(zs, Z_SYNC_FLUSH);

    if (rc == Z_DATA_ERROR && inf->encoding == NGX_HTTP_LLM_ENC_DEFLATE
        && !inf->raw && inf->in == 0 && inf->out == 0
        && zs->avail_out == size)
    {
        /* "deflate" sent as raw deflate data, without the zlib header */

        if (inflateReset2(zs, -MAX_WBITS) != Z_OK) {
            return NGX_ERROR;
        }

        inf->raw = 1;

        zs->next_in = start;
        zs->avail_in = last - start;
        zs->next_out = out;
        zs->avail_out = size;

        rc = inflate(zs, Z_SYNC_FLUSH);
    }

    *pos = zs->next_in;
    *n = size - zs->avail_out;

    inf->in += zs->next_in - start;
    inf->out += *n;

    switch (rc) {

    case Z_STREAM_END:
        inf->end = 1;
        return (*pos == last) ? NGX_AGAIN : NGX_OK;

    case Z_OK:
        return (zs->avail_in == 0 && zs->avail_out) ? NGX_AGAIN : NGX_OK;

    case Z_BUF_ERROR:
        /* no progress possible: all input used, nothing pending */
        return NGX_AGAIN;

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upstream sent invalid %s data: %s (%d)",
                      inf->encoding == NGX_HTTP_LLM_ENC_GZIP
                      ? "gzip" : "deflate",
                      zs->msg ? zs->msg : "", rc);
        return NGX_ERROR;
    }
}


/* the held body decoded whole, at most llm_max_response_size bytes */

static ngx_int_t
ngx_http_llm_inflate_held(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    size_t                   max, size, n;
    u_char                  *p, *last;
    ngx_int_t                rc;
    ngx_buf_t               *b, *nb;
    ngx_http_llm_inflate_t  *inf;

    inf = ctx->inflate;
    max = ngx_http_llm_max_response(r);

    if (ctx->inplace) {
        p = ctx->hold_start;
        last = ctx->hold_end;

    } else if (ctx->hold) {
        p = ctx->hold->pos;
        last = ctx->hold->last;

    } else {
        p = NULL;
        last = NULL;
    }

    if (p == last) {
        /* no body at all: nothing to decode */
        return NGX_OK;
    }

    size = ngx_max((size_t) (last - p) * 4, 4096);
    size = ngx_min(size, max);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_ERROR;
    }

    for ( ;; ) {

        if (b->last == b->end) {

            if ((size_t) (b->end - b->start) >= max) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "upstream sent a compressed response of "
                              "more than %uz bytes decoded "
                              "(llm_max_response_size)", max);
                return NGX_HTTP_UPSTREAM_INVALID_HEADER;
            }

            size = ngx_min((size_t) (b->end - b->start) * 2, max);

            nb = ngx_create_temp_buf(r->pool, size);
            if (nb == NULL) {
                return NGX_ERROR;
            }

            nb->last = ngx_cpymem(nb->last, b->pos, b->last - b->pos);
            ngx_pfree(r->pool, b->start);
            b = nb;
        }

        rc = ngx_http_llm_inflate(r, inf, &p, last, b->last,
                                  b->end - b->last, &n);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        b->last += n;

        if (rc == NGX_AGAIN) {
            break;
        }
    }

    if (!inf->end) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upstream sent a truncated compressed response");
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm inflated %O bytes to %O", inf->in, inf->out);

    ctx->inplace = 0;
    ctx->hold = b;

    return NGX_OK;
}


/* a stream's bytes, decoded first when they are compressed */

static ngx_int_t
ngx_http_llm_feed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *p, u_char *last, ngx_chain_t ***ll)
{
    size_t                   n;
    ngx_int_t                rc;
    ngx_http_llm_inflate_t  *inf;

    inf = ctx->inflate;

    if (inf == NULL) {
        return ngx_http_llm_feed_sse(r, ctx, p, last, ll);
    }

    if (inf->buf == NULL) {
        inf->buf = ngx_palloc(r->pool, NGX_HTTP_LLM_INFLATE_BUF);
        if (inf->buf == NULL) {
            return NGX_ERROR;
        }
    }

    for ( ;; ) {

        rc = ngx_http_llm_inflate(r, inf, &p, last, inf->buf,
                                  NGX_HTTP_LLM_INFLATE_BUF, &n);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (inf->out > NGX_HTTP_LLM_INFLATE_SLACK
                       + NGX_HTTP_LLM_INFLATE_RATIO * inf->in)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "upstream sent a compressed stream that decodes "
                          "to more than %d times its size",
                          NGX_HTTP_LLM_INFLATE_RATIO);
            return NGX_ERROR;
        }

        if (n && ngx_http_llm_feed_sse(r, ctx, inf->buf, inf->buf + n, ll)
                 != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (rc == NGX_AGAIN) {
            return NGX_OK;
        }
    }
}


static ngx_int_t
ngx_http_llm_input_filter_init(void *data)
{
    ngx_http_request_t  *r = data;

    ngx_chain_t              *cl;
    ngx_http_upstream_t      *u;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_sse_t       *sse;
    ngx_http_llm_loc_conf_t  *llcf;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (!ctx->streaming) {

        /* the held and translated body goes out at once */

        for (cl = ctx->out; cl; cl = cl->next) {
            cl->buf->tag = u->output.tag;

            if (cl->next == NULL) {
                cl->buf->flush = 1;
            }
        }

        u->out_bufs = ctx->out;
        ctx->out = NULL;
        u->length = 0;

        return NGX_OK;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    if (ctx->eventstream) {
        /* ctx->sse: the frame decoder instead */

        ctx->sse = ngx_palloc(r->pool, sizeof(ngx_http_llm_es_t));
        if (ctx->sse == NULL) {
            return NGX_ERROR;
        }

        ngx_http_llm_es_init(ctx->sse, r->pool, r->connection->log,
                             llcf->max_event_size);

    } else if (ctx->sse == NULL) {
        ctx->sse = ngx_palloc(r->pool, sizeof(ngx_http_llm_sse_t));
        if (ctx->sse == NULL) {
            return NGX_ERROR;
        }
    }

    if (!ctx->eventstream) {
        sse = ctx->sse;
        ngx_http_llm_sse_init(sse, r->pool, r->connection->log,
                              llcf->max_event_size);
    }

    if (u->headers_in.chunked) {
        ctx->chunked_in = 1;
        u->length = 1;

    } else if (ctx->rest >= 0) {
        /* an event stream with "Content-Length": rare, but valid */
        u->length = ctx->rest;

        if (u->length == 0) {
            u->keepalive = !u->headers_in.connection_close;
        }

    } else {
        /* delimited by the connection's close */
        u->length = -1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_input_filter(void *data, ssize_t bytes)
{
    ngx_http_request_t  *r = data;

    ngx_int_t             rc;
    ngx_buf_t            *buf;
    ngx_chain_t          *cl, **ll;
    ngx_http_upstream_t      *u;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *llcf;
    u_char                   *p;
    size_t                    n;

    u = r->upstream;
    buf = &u->buffer;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    buf->pos = buf->last;
    buf->last += bytes;

    if (!ctx->streaming || ctx->stream_failed) {
        /*
         * the held body: already translated into u->out_bufs; or the
         * rest of a stream that was ended with an error event
         */
        buf->pos = buf->last;
        return NGX_OK;
    }

    if (ctx->conf && bytes) {
        /* the first bytes came: llm_read_timeout between the next ones */
        llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);
        ctx->conf->read_timeout = llcf->upstream.read_timeout;
    }

    for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
        ll = &cl->next;
    }

    if (!ctx->chunked_in) {

        if (u->length >= 0 && bytes > u->length) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "upstream sent more data than specified in "
                          "\"Content-Length\" header");
            buf->last = buf->pos + u->length;
            bytes = u->length;
        }

        rc = ngx_http_llm_feed(r, ctx, buf->pos, buf->last, &ll);
        buf->pos = buf->last;

        if (rc != NGX_OK) {
            goto failed;
        }

        if (u->length > 0) {
            u->length -= bytes;

            if (u->length == 0) {
                u->keepalive = !u->headers_in.connection_close;

                if (rc == NGX_OK) {
                    rc = ngx_http_llm_stream_end(r, ctx, &ll);
                }
            }
        }

        return rc;
    }

    for ( ;; ) {

        rc = ngx_http_llm_parse_chunked(r, buf, &ctx->chunked);

        if (rc == NGX_OK) {
            p = buf->pos;
            n = ngx_min((off_t) (buf->last - buf->pos), ctx->chunked.size);

            buf->pos += n;
            ctx->chunked.size -= n;

            if (ngx_http_llm_feed(r, ctx, p, p + n, &ll) != NGX_OK) {
                goto failed;
            }

            continue;
        }

        if (rc == NGX_DONE) {
            u->keepalive = !u->headers_in.connection_close;
            u->length = 0;

            if (buf->pos != buf->last) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "upstream sent data after final chunk");
                u->keepalive = 0;
            }

            if (ctx->inflate
                && !((ngx_http_llm_inflate_t *) ctx->inflate)->end)
            {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "upstream sent a truncated compressed "
                              "stream");
                goto failed;
            }

            if (ngx_http_llm_stream_end(r, ctx, &ll) != NGX_OK) {
                return NGX_ERROR;
            }

            break;
        }

        if (rc == NGX_AGAIN) {
            break;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upstream sent invalid chunked response");

        goto failed;
    }

    return NGX_OK;

failed:

    /*
     * The reason is logged already.  The client's stream ends with an
     * error event and then properly (u->length 0: the last chunk); the
     * rest of the upstream's body is ignored, its connection closed.
     */

    buf->pos = buf->last;
    u->keepalive = 0;
    u->length = 0;

    return ngx_http_llm_stream_fail(r, ctx, NGX_HTTP_BAD_GATEWAY, &ll);
}


/* the time to first token: when the first generated text is streamed */

#define ngx_http_llm_first_token(ctx)                                        \
    if ((ctx)->first_token_msec == 0 && (ctx)->generated) {                  \
        (ctx)->first_token_msec = ngx_current_msec;                          \
    }


static ngx_int_t
ngx_http_llm_feed_sse(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *p, u_char *last, ngx_chain_t ***ll)
{
    ngx_int_t            rc;
    ngx_str_t            name, data;
    ngx_http_llm_sse_t  *sse;

    if (ctx->eventstream) {
        rc = ngx_http_llm_feed_es(r, ctx, p, last, ll);
        ngx_http_llm_first_token(ctx);
        return rc;
    }

    sse = ctx->sse;

    while (p < last) {

        rc = ngx_http_llm_sse_parse(sse, &p, last);

        if (rc == NGX_AGAIN) {
            break;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        name.data = sse->name;
        name.len = sse->has_event ? sse->name_len : 0;
        data.data = sse->data;
        data.len = sse->len;

        rc = ctx->provider->type->stream_event(r, ctx, &name, &data, ll);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (ctx->stream_failed) {
            /* an in-band error was the last event: nothing after it */
            return NGX_DONE;
        }
    }

    ngx_http_llm_first_token(ctx);

    return NGX_OK;
}


/*
 * AWS event-stream frames: each one is an event named by its
 * ":event-type" (the adapter reads exceptions from the decoder); a bad
 * frame ends the stream
 */

static ngx_int_t
ngx_http_llm_feed_es(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *p, u_char *last, ngx_chain_t ***ll)
{
    ngx_int_t           rc;
    ngx_str_t           name;
    ngx_http_llm_es_t  *es;

    es = ctx->sse;

    while (p < last) {

        rc = ngx_http_llm_es_parse(es, &p, last);

        if (rc == NGX_AGAIN) {
            break;
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llm provider \"%V\" sent a bad event-stream "
                          "frame: %s", &ctx->provider->name, es->error);
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        name = es->message_type.len == 5 ? es->event_type : es->exception_type;

        rc = ctx->provider->type->stream_event(r, ctx, &name, &es->payload,
                                               ll);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The upstream's body ended well (last chunk, or all of Content-Length):
 * the adapter is called once more with no event, so that a translated
 * stream can be closed properly (Gemini just ends; an OpenAI client
 * still needs its finish chunk, usage and [DONE]).
 */

static ngx_int_t
ngx_http_llm_stream_end(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_chain_t ***ll)
{
    if (ctx->stream_ended || ctx->stream_failed) {
        return NGX_OK;
    }

    ctx->stream_ended = 1;

    return ctx->provider->type->stream_event(r, ctx, NULL, NULL, ll);
}


/*
 * The upstream failed after the stream's header went to the client: no
 * other answer can follow, so the client's stream gets one final error
 * event in its own format (nothing after it, no [DONE]).  Nothing when
 * the client's stream was complete already.
 */

static ngx_int_t
ngx_http_llm_stream_fail(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t status, ngx_chain_t ***ll)
{
    u_char                *p;
    ngx_str_t              message;
    ngx_http_llm_delta_t   delta;

    if (ctx->stream_failed) {
        return NGX_OK;
    }

    ctx->stream_failed = 1;

    if (status == NGX_HTTP_GATEWAY_TIME_OUT) {
        ngx_str_set(&message, "The model provider timed out in the middle "
                              "of the stream.");

    } else {
        ngx_str_set(&message, "The model provider's stream failed before "
                              "it was complete.");
    }

    if (ctx->req == NULL) {

        /* passthrough: the OpenAI client's stream, unless [DONE] ended it */

        if (ctx->done) {
            return NGX_OK;
        }

        if (ctx->surface == NGX_HTTP_LLM_SURFACE_RESPONSES) {
            /* responses=native: the Responses API's error event */
            return ngx_http_llm_responses_fail(r, &message, ll);
        }

        p = ngx_pnalloc(r->pool, sizeof("{\"error\":{\"message\":\"\","
                                        "\"type\":\"api_error\","
                                        "\"param\":null,\"code\":"
                                        "\"upstream_error\"}}") - 1
                                 + message.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        message.data = ngx_sprintf(p, "{\"error\":{\"message\":\"%V\","
                                   "\"type\":\"api_error\","
                                   "\"param\":null,\"code\":"
                                   "\"upstream_error\"}}", &message);

        return ngx_http_llm_emit_event(r, NULL, p, message.data - p, ll);
    }

    /* translated: the surface writes it, or nothing if it was closed */

    ngx_memzero(&delta, sizeof(ngx_http_llm_delta_t));
    delta.type = NGX_HTTP_LLM_DELTA_ERROR;
    delta.error_message = message;
    ngx_str_set(&delta.error_type, "api_error");
    ngx_str_set(&delta.error_code, "upstream_error");

    return ngx_http_llm_emit_delta(r, ctx, &delta, ll);
}


static ngx_int_t
ngx_http_llm_responses_fail(ngx_http_request_t *r, ngx_str_t *message,
    ngx_chain_t ***ll)
{
    u_char     *p, *last;
    ngx_str_t   name;

    p = ngx_pnalloc(r->pool, sizeof("{\"type\":\"error\",\"code\":"
                                    "\"upstream_error\",\"message\":\"\","
                                    "\"param\":null}") - 1 + message->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(p, "{\"type\":\"error\",\"code\":\"upstream_error\","
                          "\"message\":\"%V\",\"param\":null}", message);

    ngx_str_set(&name, "error");

    return ngx_http_llm_emit_event(r, &name, p, last - p, ll);
}


ngx_int_t
ngx_http_llm_emit_event(ngx_http_request_t *r, ngx_str_t *name,
    u_char *data, size_t len, ngx_chain_t ***ll)
{
    u_char              *p, *lf, *last;
    size_t               size;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_llm_ctx_t  *ctx;

    /* a value of several lines is sent as as many "data:" lines */

    size = sizeof("data: \n\n") - 1 + len;
    last = len ? data + len : data;

    for (p = data; p != last && (lf = memchr(p, LF, last - p)); p = lf + 1)
    {
        size += sizeof("data: ") - 1;
    }

    if (name && name->len) {
        size += sizeof("event: \n") - 1 + name->len;
    }

    cl = ngx_http_llm_get_buf(r, size);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    if (name && name->len) {
        b->last = ngx_cpymem(b->last, "event: ", sizeof("event: ") - 1);
        b->last = ngx_cpymem(b->last, name->data, name->len);
        *b->last++ = LF;
    }

    b->last = ngx_cpymem(b->last, "data: ", sizeof("data: ") - 1);

    for (p = data; p != last && (lf = memchr(p, LF, last - p)); p = lf + 1)
    {
        b->last = ngx_cpymem(b->last, p, lf + 1 - p);
        b->last = ngx_cpymem(b->last, "data: ", sizeof("data: ") - 1);
    }

    if (p != last) {
        b->last = ngx_cpymem(b->last, p, last - p);
    }

    *b->last++ = LF;
    *b->last++ = LF;

    b->flush = 1;

    **ll = cl;
    *ll = &cl->next;

    /*
     * what a stream cut short is charged for: the passthrough's events
     * (translated ones are counted as deltas, ngx_http_llm_emit_delta())
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (ctx && ctx->req == NULL) {
        ctx->generated += ngx_http_llm_usage_generated(data, len);
    }

    return NGX_OK;
}


static void
ngx_http_llm_abort_request(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "abort http llm request");
}


/*
 * Called first by ngx_http_upstream_finalize_request().  Once a stream's
 * header went to the client, nginx itself would only close the
 * connection on an upstream failure (reset, premature close, timeout:
 * rc 502 or 504, logged by nginx): the client's stream gets its final
 * error event and the last chunk here instead, so it ends properly.
 * A stream delimited by the connection's close (rc 0) is closed by the
 * adapter here, as after the last chunk.
 */

static void
ngx_http_llm_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_buf_t            *b;
    ngx_chain_t          *out, *cl, **ll;
    ngx_http_llm_ctx_t   *ctx;
    ngx_http_upstream_t  *u;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "finalize http llm request: %i", rc);

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);
    u = r->upstream;

    /* the target is no longer busy with it, even if the client lingers */

    if (ctx) {
        ngx_http_llm_strategy_done(r, ctx, rc);
        ngx_http_llm_cooldown_done(r, ctx, rc);

        if (ctx->attempt_timer && ctx->attempt_timer->timer_set) {
            ngx_del_timer(ctx->attempt_timer);
        }
    }

    if (ctx == NULL || !ctx->streaming || u == NULL || !u->header_sent
        || r->header_only || r->connection->error
        || rc == NGX_DECLINED
        || rc == NGX_HTTP_REQUEST_TIME_OUT
        || rc == NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        /* the client went away mid-stream: charged what was produced */

        if (ctx) {
            ngx_http_llm_usage_partial(r, ctx);
        }

        return;
    }

    /* events built but not sent yet go first */

    out = u->out_bufs;
    u->out_bufs = NULL;

    for (ll = &out; *ll; ll = &(*ll)->next) { /* void */ }

    if (rc == NGX_OK) {
        if (ngx_http_llm_stream_end(r, ctx, &ll) != NGX_OK) {
            return;
        }

    } else {
        if (!ctx->stream_failed) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm stream ended with an error event after "
                          "the upstream failed (%i)", rc);
        }

        ctx->stream_timeout = (rc == NGX_HTTP_GATEWAY_TIME_OUT);

        if (ngx_http_llm_stream_fail(r, ctx,
                                     rc == NGX_HTTP_GATEWAY_TIME_OUT
                                     ? NGX_HTTP_GATEWAY_TIME_OUT
                                     : NGX_HTTP_BAD_GATEWAY, &ll)
            != NGX_OK)
        {
            return;
        }

        /* the last chunk: nginx itself only flushes after an error */

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return;
        }

        b->last_buf = 1;

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return;
        }

        cl->buf = b;
        cl->next = NULL;
        *ll = cl;
    }

    if (out) {
        (void) ngx_http_output_filter(r, out);
    }

    /* a stream the provider cut short */

    ngx_http_llm_usage_partial(r, ctx);
}


static ngx_int_t
ngx_http_llm_add_header(ngx_http_request_t *r, ngx_list_t *headers,
    const char *key, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    /* upstream headers are looked up in the hide_headers hash */

    h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        h->hash = 0;
        return NGX_ERROR;
    }

    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
