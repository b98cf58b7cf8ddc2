
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_DIRECTIVE_H_INCLUDED_
#define _NGX_HTTP_LLM_DIRECTIVE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


char *ngx_http_llm_provider_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_pass_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Header lines "Name: value\r\n": those of "base" (ngx_keyval_t) that
 * "over" does not name again, then those of "over"; either may be NULL.
 */
ngx_int_t ngx_http_llm_headers_build(ngx_pool_t *pool, ngx_array_t *base,
    ngx_array_t *over, ngx_str_t *out);


#endif /* _NGX_HTTP_LLM_DIRECTIVE_H_INCLUDED_ */
