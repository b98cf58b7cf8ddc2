
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_directive.h"
#include "ngx_http_llm_handler.h"
#include "ngx_http_llm_router.h"
#include "ngx_http_llm_fallback.h"
#include "ngx_http_llm_error.h"
#include "ngx_http_llm_variables.h"
#include "ngx_http_llm_shm.h"
#include "ngx_http_llm_keys.h"
#include "ngx_http_llm_limit.h"
#include "ngx_http_llm_status.h"


static ngx_int_t ngx_http_llm_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_llm_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_llm_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_llm_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_llm_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_llm_set_ssl(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *llcf);
#endif


static ngx_conf_bitmask_t  ngx_http_llm_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_header"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("non_idempotent"), NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT },
    { ngx_string("http_500"), NGX_HTTP_UPSTREAM_FT_HTTP_500 },
    { ngx_string("http_502"), NGX_HTTP_UPSTREAM_FT_HTTP_502 },
    { ngx_string("http_503"), NGX_HTTP_UPSTREAM_FT_HTTP_503 },
    { ngx_string("http_504"), NGX_HTTP_UPSTREAM_FT_HTTP_504 },
    { ngx_string("http_429"), NGX_HTTP_UPSTREAM_FT_HTTP_429 },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};


#if (NGX_HTTP_SSL)

static ngx_conf_bitmask_t  ngx_http_llm_ssl_protocols[] = {
    { ngx_string("SSLv2"), NGX_SSL_SSLv2 },
    { ngx_string("SSLv3"), NGX_SSL_SSLv3 },
    { ngx_string("TLSv1"), NGX_SSL_TLSv1 },
    { ngx_string("TLSv1.1"), NGX_SSL_TLSv1_1 },
    { ngx_string("TLSv1.2"), NGX_SSL_TLSv1_2 },
    { ngx_string("TLSv1.3"), NGX_SSL_TLSv1_3 },
    { ngx_null_string, 0 }
};

#endif


static ngx_command_t  ngx_http_llm_commands[] = {

    { ngx_string("llm_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_provider_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_cooldown"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_cooldown_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_route_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_zone_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_keys_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llm_key_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, auth),
      NULL },

    { ngx_string("llm_reserve_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, reserve_tokens),
      NULL },

    { ngx_string("llm_price"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_price_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_llm_status_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_pass"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_llm_pass_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.connect_timeout),
      NULL },

    { ngx_string("llm_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.send_timeout),
      NULL },

    { ngx_string("llm_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.read_timeout),
      NULL },

    { ngx_string("llm_first_token_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, first_token_timeout),
      NULL },

    { ngx_string("llm_attempt_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, attempt_timeout),
      NULL },

    { ngx_string("llm_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.buffer_size),
      NULL },

    { ngx_string("llm_max_response_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, max_response_size),
      NULL },

    { ngx_string("llm_max_event_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, max_event_size),
      NULL },

    { ngx_string("llm_next_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.next_upstream),
      &ngx_http_llm_next_upstream_masks },

    { ngx_string("llm_next_upstream_tries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.next_upstream_tries),
      NULL },

    { ngx_string("llm_next_upstream_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.next_upstream_timeout),
      NULL },

#if (NGX_HTTP_SSL)

    { ngx_string("llm_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_verify),
      NULL },

    { ngx_string("llm_ssl_verify_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_verify_depth),
      NULL },

    { ngx_string("llm_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_trusted_certificate),
      NULL },

    { ngx_string("llm_ssl_crl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_crl),
      NULL },

    { ngx_string("llm_ssl_protocols"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_protocols),
      &ngx_http_llm_ssl_protocols },

    { ngx_string("llm_ssl_ciphers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_ciphers),
      NULL },

    { ngx_string("llm_ssl_server_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_server_name),
      NULL },

    { ngx_string("llm_ssl_session_reuse"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_session_reuse),
      NULL },

#endif

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llm_module_ctx = {
    ngx_http_llm_preconfiguration,         /* preconfiguration */
    ngx_http_llm_postconfiguration,        /* postconfiguration */

    ngx_http_llm_create_main_conf,         /* create main configuration */
    ngx_http_llm_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llm_create_loc_conf,          /* create location configuration */
    ngx_http_llm_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_llm_module = {
    NGX_MODULE_V1,
    &ngx_http_llm_module_ctx,              /* module context */
    ngx_http_llm_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_llm_hide_headers[] = {
    ngx_string("Date"),
    ngx_string("Server"),
    ngx_string("X-Pad"),
    ngx_string("X-Accel-Expires"),
    ngx_string("X-Accel-Redirect"),
    ngx_string("X-Accel-Limit-Rate"),
    ngx_string("X-Accel-Buffering"),
    ngx_string("X-Accel-Charset"),
    ngx_null_string
};


static ngx_int_t
ngx_http_llm_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_llm_add_variables(cf);
}


static ngx_int_t
ngx_http_llm_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_llm_status_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llm_error_filter_init(cf);
}


static void *
ngx_http_llm_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lmcf->exact = { NULL, 0 };
     *     lmcf->default_route = NULL;
     *     lmcf->has_tls = 0;
     *     lmcf->zone = NULL;
     *     lmcf->prices = NULL;
     */

    /* requests with fallbacks start in this upstream{} */

    lmcf->fallback_upstream.peer.init = ngx_http_llm_fallback_init_peer;

    if (ngx_array_init(&lmcf->providers, cf->pool, 4,
                       sizeof(ngx_http_llm_provider_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&lmcf->routes, cf->pool, 8,
                       sizeof(ngx_http_llm_route_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&lmcf->regexes, cf->pool, 4,
                       sizeof(ngx_http_llm_route_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return lmcf;
}


static char *
ngx_http_llm_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_llm_main_conf_t  *lmcf = conf;

    lmcf->created = ngx_time();

    if (lmcf->cooldown_failures && lmcf->zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"llm_cooldown\" requires \"llm_zone\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_router_init(cf, lmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_llm_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llm_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream.bufs.num = 0;
     *     conf->upstream.ignore_headers = 0;
     *     conf->upstream.upstream = NULL;
     *     conf->upstream.hide_headers_hash = { NULL, 0 };
     *     conf->per_provider = NULL;
     *     conf->surface = NGX_HTTP_LLM_SURFACE_AUTO;
     *     conf->ssl_trusted_certificate = { 0, NULL };
     *     conf->ssl_crl = { 0, NULL };
     *     conf->ssl_ciphers = { 0, NULL };
     *     conf->keys = NULL;
     */

    conf->enabled = NGX_CONF_UNSET;
    conf->auth = NGX_CONF_UNSET;
    conf->reserve_tokens = NGX_CONF_UNSET;

    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->first_token_timeout = NGX_CONF_UNSET_MSEC;
    conf->attempt_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;
    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;

    conf->upstream.hide_headers = NGX_CONF_UNSET_PTR;
    conf->upstream.pass_headers = NGX_CONF_UNSET_PTR;

    conf->max_response_size = NGX_CONF_UNSET_SIZE;
    conf->max_event_size = NGX_CONF_UNSET_SIZE;

#if (NGX_HTTP_SSL)
    conf->ssl_verify = NGX_CONF_UNSET;
    conf->ssl_verify_depth = NGX_CONF_UNSET_UINT;
    conf->ssl_server_name = NGX_CONF_UNSET;
    conf->ssl_session_reuse = NGX_CONF_UNSET;
#endif

    /* the module never buffers to disk and never intercepts */

    conf->upstream.buffering = 0;
    conf->upstream.request_buffering = 1;
    conf->upstream.ignore_client_abort = 0;
    conf->upstream.intercept_errors = 0;
    conf->upstream.cyclic_temp_file = 0;
    conf->upstream.change_buffering = 0;
    conf->upstream.pass_request_headers = 0;
    conf->upstream.pass_request_body = 0;
    conf->upstream.limit_rate = 0;
    conf->upstream.send_lowat = 0;
    conf->upstream.force_ranges = 0;
    conf->upstream.socket_keepalive = 0;
    conf->upstream.local = NULL;

    ngx_str_set(&conf->upstream.module, "llm");

    return conf;
}


static char *
ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llm_loc_conf_t *prev = parent;
    ngx_http_llm_loc_conf_t *conf = child;

    ngx_uint_t                      i, mask;
    ngx_hash_init_t                 hash;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_llm_main_conf_t       *lmcf;
    ngx_http_llm_provider_conf_t  **pp;
#if (NGX_HTTP_SSL)
    ngx_http_complex_value_t       *cv;
#endif

    /* llm_pass, like proxy_pass, is not inherited */

    if (conf->enabled == NGX_CONF_UNSET) {
        conf->enabled = 0;
    }

    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 10000);

    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 60000);

    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 300000);

    /* 0: llm_read_timeout until the first bytes too; no deadline */

    ngx_conf_merge_msec_value(conf->first_token_timeout,
                              prev->first_token_timeout, 0);

    ngx_conf_merge_msec_value(conf->attempt_timeout,
                              prev->attempt_timeout, 0);

    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size,
                              (size_t) 16 * 1024);

    ngx_conf_merge_bitmask_value(conf->upstream.next_upstream,
                              prev->upstream.next_upstream,
                              (NGX_CONF_BITMASK_SET
                               |NGX_HTTP_UPSTREAM_FT_ERROR
                               |NGX_HTTP_UPSTREAM_FT_TIMEOUT));

    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->upstream.next_upstream = NGX_CONF_BITMASK_SET
                                       |NGX_HTTP_UPSTREAM_FT_OFF;
    }

    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);

    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);

    ngx_conf_merge_size_value(conf->max_response_size,
                              prev->max_response_size,
                              (size_t) 16 * 1024 * 1024);

    ngx_conf_merge_size_value(conf->max_event_size,
                              prev->max_event_size,
                              (size_t) 1024 * 1024);

    if (conf->upstream.buffer_size < 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llm_buffer_size\" must be at least 1k");
        return NGX_CONF_ERROR;
    }

#if (NGX_HTTP_SSL)
    ngx_conf_merge_value(conf->ssl_verify, prev->ssl_verify, 1);
    ngx_conf_merge_uint_value(conf->ssl_verify_depth,
                              prev->ssl_verify_depth, 4);
    ngx_conf_merge_str_value(conf->ssl_trusted_certificate,
                             prev->ssl_trusted_certificate,
                             "/etc/ssl/certs/ca-certificates.crt");
    ngx_conf_merge_str_value(conf->ssl_crl, prev->ssl_crl, "");
    ngx_conf_merge_bitmask_value(conf->ssl_protocols, prev->ssl_protocols,
                                 (NGX_CONF_BITMASK_SET|NGX_SSL_TLSv1_2
                                  |NGX_SSL_TLSv1_3));
    ngx_conf_merge_str_value(conf->ssl_ciphers, prev->ssl_ciphers,
                             "DEFAULT");
    ngx_conf_merge_value(conf->ssl_server_name, prev->ssl_server_name, 1);
    ngx_conf_merge_value(conf->ssl_session_reuse,
                         prev->ssl_session_reuse, 1);
#endif

    hash.max_size = 512;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "llm_headers_hash";

    if (ngx_http_upstream_hide_headers_hash(cf, &conf->upstream,
            &prev->upstream, ngx_http_llm_hide_headers, &hash)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_keys_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* llm_status in a location inside one with llm_pass: the status */

    if (!conf->enabled || conf->status_format) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llm_handler;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_module);

#if (NGX_HTTP_SSL)
    if (lmcf->has_tls && conf->upstream.ssl == NULL) {
        if (ngx_http_llm_set_ssl(cf, conf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }
#endif

#if (NGX_HTTP_SSL)
    conf->upstream.ssl_verify = conf->ssl_verify;
    conf->upstream.ssl_server_name = conf->ssl_server_name;
    conf->upstream.ssl_session_reuse = conf->ssl_session_reuse;
#endif

    /* a copy of the upstream settings for every provider's upstream{} */

    if (lmcf->providers.nelts == 0) {
        return NGX_CONF_OK;
    }

    conf->per_provider = ngx_pcalloc(cf->pool, lmcf->providers.nelts
                                     * sizeof(ngx_http_upstream_conf_t));
    if (conf->per_provider == NULL) {
        return NGX_CONF_ERROR;
    }

    pp = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        conf->per_provider[i] = conf->upstream;
        conf->per_provider[i].upstream = pp[i]->upstream;

#if (NGX_HTTP_SSL)
        if (!pp[i]->tls) {
            conf->per_provider[i].ssl = NULL;
            continue;
        }

        /* SNI and certificate name: the provider's host */

        cv = ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        cv->value = pp[i]->host;
        conf->per_provider[i].ssl_name = cv;
#endif
    }

    /*
     * requests that may move on to a fallback: the module decides on
     * statuses itself (ngx_http_llm_fallback_status() answers "invalid
     * header" for the next target); "error" and "timeout" as configured
     */

    conf->fallback_provider = ngx_palloc(cf->pool, lmcf->providers.nelts
                                         * sizeof(ngx_http_upstream_conf_t));
    if (conf->fallback_provider == NULL) {
        return NGX_CONF_ERROR;
    }

    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        mask = NGX_CONF_BITMASK_SET|NGX_HTTP_UPSTREAM_FT_OFF;

    } else {
        mask = NGX_CONF_BITMASK_SET
               |NGX_HTTP_UPSTREAM_FT_INVALID_HEADER
               |NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT
               |(conf->upstream.next_upstream
                 & (NGX_HTTP_UPSTREAM_FT_ERROR|NGX_HTTP_UPSTREAM_FT_TIMEOUT));
    }

    for (i = 0; i < lmcf->providers.nelts; i++) {
        conf->fallback_provider[i] = conf->per_provider[i];
        conf->fallback_provider[i].next_upstream = mask;
    }

    conf->fallback_init = conf->fallback_provider[0];
    conf->fallback_init.upstream = &lmcf->fallback_upstream;

    return NGX_CONF_OK;
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_llm_set_ssl(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *llcf)
{
    ngx_pool_cleanup_t  *cln;

    llcf->upstream.ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (llcf->upstream.ssl == NULL) {
        return NGX_ERROR;
    }

    llcf->upstream.ssl->log = cf->log;

    if (ngx_ssl_create(llcf->upstream.ssl, llcf->ssl_protocols, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(llcf->upstream.ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = llcf->upstream.ssl;

    if (ngx_ssl_ciphers(cf, llcf->upstream.ssl, &llcf->ssl_ciphers, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (llcf->ssl_verify) {
        if (llcf->ssl_trusted_certificate.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "no llm_ssl_trusted_certificate for llm_ssl_verify");
            return NGX_ERROR;
        }

        if (ngx_ssl_trusted_certificate(cf, llcf->upstream.ssl,
                                        &llcf->ssl_trusted_certificate,
                                        llcf->ssl_verify_depth)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_ssl_crl(cf, llcf->upstream.ssl, &llcf->ssl_crl) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_ssl_client_session_cache(cf, llcf->upstream.ssl,
                                     llcf->ssl_session_reuse)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}

#endif
