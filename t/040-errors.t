# Errors: the client's, nginx's own and the provider's, always as OpenAI
# JSON {"error":{"message","type","param","code"}} with the right status.
#
# Mock providers are locations of the same server (base=/mock), or the
# embedded TCP server for byte-exact requests and silent peers.

use Test::Nginx::Socket 'no_plan';

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';

# a request body larger than client_body_buffer_size 1k
our $Big = '{"model":"gpt-4o","messages":[{"role":"user","content":"'
           . ('0123456789abcdef' x 512) . '"}]}';

our $BigReply = '{"id":"chatcmpl-big","object":"chat.completion",'
                . '"choices":[]}';

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route default mock;
_EOC_
    }

    if (!defined $block->config || $block->config !~ /\bllm_pass\b/) {
        $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: malformed JSON: 400
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"We could not parse the JSON body of your request: it must be one JSON object.","type":"invalid_request_error","param":null,"code":"invalid_json"}}
--- error_log
llm: client sent invalid JSON
--- no_error_log
[error]



=== TEST 2: top-level value that is not an object: 400
--- request
POST /v1/chat/completions
[{"model":"gpt-4o","messages":[]}]
--- error_code: 400
--- response_body
{"error":{"message":"We could not parse the JSON body of your request: it must be one JSON object.","type":"invalid_request_error","param":null,"code":"invalid_json"}}
--- no_error_log
[error]



=== TEST 3: no model: 400
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body
{"error":{"message":"You must provide a model parameter (a string).","type":"invalid_request_error","param":null,"code":"missing_required_parameter"}}
--- no_error_log
[error]



=== TEST 4: model that is not a string: 400
--- request
POST /v1/chat/completions
{"model":4,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body
{"error":{"message":"You must provide a model parameter (a string).","type":"invalid_request_error","param":null,"code":"missing_required_parameter"}}
--- no_error_log
[error]



=== TEST 5: no messages: 400
--- request
POST /v1/chat/completions
{"model":"gpt-4o","prompt":"hi"}
--- error_code: 400
--- response_body
{"error":{"message":"Missing required parameter: 'messages' (an array).","type":"invalid_request_error","param":null,"code":"missing_required_parameter"}}
--- no_error_log
[error]



=== TEST 6: "stream" that is not a boolean: 400
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":"yes"}
--- error_code: 400
--- response_body
{"error":{"message":"Invalid type for 'stream': expected a boolean.","type":"invalid_request_error","param":null,"code":"invalid_type"}}
--- no_error_log
[error]



=== TEST 7: embeddings without input: 400
--- request
POST /v1/embeddings
{"model":"text-embedding-3-small"}
--- error_code: 400
--- response_body
{"error":{"message":"Missing required parameter: 'input'.","type":"invalid_request_error","param":null,"code":"missing_required_parameter"}}
--- no_error_log
[error]



=== TEST 8: no body at all: 400
--- request
POST /v1/chat/completions
--- error_code: 400
--- response_body
{"error":{"message":"The request has no JSON body.","type":"invalid_request_error","param":null,"code":"missing_body"}}
--- no_error_log
[error]



=== TEST 9: unknown model, no default route: 404 model_not_found
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
--- request
POST /v1/chat/completions
{"model":"gpt-5-nope","messages":[{"role":"user","content":"hi"}]}
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The requested model does not exist or is not routed by this gateway.","type":"invalid_request_error","param":null,"code":"model_not_found"}}
--- error_log
llm: no route for the requested model
--- no_error_log
[error]



=== TEST 10: unknown endpoint: 404
--- request
POST /v1/completions
{"model":"gpt-4o","prompt":"hi"}
--- error_code: 404
--- response_body
{"error":{"message":"Unknown API endpoint.","type":"invalid_request_error","param":null,"code":"not_found"}}
--- no_error_log
[error]



=== TEST 11: wrong method: 405 with Allow
--- request
GET /v1/chat/completions
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body
{"error":{"message":"Method not allowed for this endpoint.","type":"invalid_request_error","param":null,"code":"method_not_allowed"}}
--- no_error_log
[error]



=== TEST 12: wrong method on /v1/models: 405 with Allow
--- request
POST /v1/models
{}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body
{"error":{"message":"Method not allowed for this endpoint.","type":"invalid_request_error","param":null,"code":"method_not_allowed"}}
--- no_error_log
[error]



=== TEST 13: body over client_max_body_size: nginx's 413 becomes JSON
--- config
    location /v1/ {
        llm_pass;
        client_max_body_size 1k;
    }
--- request eval
"POST /v1/chat/completions\n$::Big"
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The request body is larger than this gateway accepts.","type":"invalid_request_error","param":null,"code":"request_too_large"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
client intended to send too large body



=== TEST 14: chunked body over client_max_body_size: 413 as JSON
--- config
    location /v1/ {
        llm_pass;
        client_max_body_size 1k;
    }
--- raw_request eval
"POST /v1/chat/completions HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $::Big, $::Big)
--- error_code: 413
--- response_body
{"error":{"message":"The request body is larger than this gateway accepts.","type":"invalid_request_error","param":null,"code":"request_too_large"}}
--- error_log
client intended to send too large chunked body



=== TEST 15: a body written to a temp file is forwarded intact
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        client_body_buffer_size 1k;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"POST /v1/chat/completions HTTP/1.1\r
Host: 127.0.0.1\r
Content-Type: application/json\r
Content-Length: " . length($::Big) . "\r
Accept: application/json\r
Accept-Encoding: identity\r
\r
$::Big"
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: application/json\r
Content-Length: " . length($::BigReply) . "\r
\r
$::BigReply"
--- request eval
"POST /v1/chat/completions\n$::Big"
--- response_body eval
$::BigReply
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
[error]



=== TEST 16: provider unreachable (closed port): 502 as JSON
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
connect() failed (111: Connection refused) while connecting to upstream



=== TEST 17: provider does not answer within llm_read_timeout: 504 as JSON
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 200ms;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
""
--- tcp_no_close: 1
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 504
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The model provider did not answer in time.","type":"api_error","param":null,"code":"upstream_timeout"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
upstream timed out (110: Connection timed out) while reading response header from upstream
--- timeout: 3



=== TEST 18: provider 400: message, type and code kept, status kept
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 400 '{"error":{"message":"Invalid value for \'temperature\': must be at most 2.","type":"invalid_request_error","param":null,"code":"invalid_value"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"Invalid value for 'temperature': must be at most 2.","type":"invalid_request_error","param":null,"code":"invalid_value"}}
--- error_log
llm provider "mock" answered 400
--- no_error_log
[error]



=== TEST 19: provider 404: mapped, status kept
--- config
    location = /mock/chat/completions {
        return 404 '{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 404
--- response_body
{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}
--- no_error_log
[error]



=== TEST 20: provider 422 with a numeric code: mapped, status kept
--- config
    location = /mock/chat/completions {
        return 422 '{"error":{"message":"Unprocessable entity","type":"invalid_request_error","code":3051}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 422
--- response_body
{"error":{"message":"Unprocessable entity","type":"invalid_request_error","param":null,"code":"3051"}}
--- no_error_log
[error]



=== TEST 21: provider 429: mapped, Retry-After passed on
--- config
    location = /mock/chat/completions {
        add_header Retry-After 7 always;
        add_header X-Request-Id req-429 always;
        add_header X-Ratelimit-Remaining-Requests 0 always;
        return 429 '{"error":{"message":"Rate limit reached for gpt-4o.","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 429
--- response_headers
Retry-After: 7
X-Request-Id: req-429
!X-Ratelimit-Remaining-Requests
--- response_body
{"error":{"message":"Rate limit reached for gpt-4o.","type":"requests","param":null,"code":"rate_limit_exceeded"}}
--- no_error_log
[error]



=== TEST 22: provider 500: mapped, status kept, one error line
--- config
    location = /mock/chat/completions {
        return 500 '{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 500
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
llm provider "mock" answered 500



=== TEST 23: provider 503: mapped, status kept
--- config
    location = /mock/chat/completions {
        return 503 '{"error":{"message":"The engine is currently overloaded.","type":"server_error","code":"engine_overloaded"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 503
--- response_body
{"error":{"message":"The engine is currently overloaded.","type":"server_error","param":null,"code":"engine_overloaded"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]



=== TEST 24: flat Mistral error {"object":"error",...}
--- http_config
    llm_provider mistral type=mistral
                 upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT base=/mock
                 key=none;
    llm_route default mistral;
--- config
    location = /mock/chat/completions {
        return 400 '{"object":"error","message":"Invalid model: mistral-nope","type":"invalid_model","param":null,"code":"1500"}';
    }
--- request
POST /v1/chat/completions
{"model":"mistral-nope","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body
{"error":{"message":"Invalid model: mistral-nope","type":"invalid_model","param":null,"code":"1500"}}
--- no_error_log
[error]



=== TEST 25: FastAPI {"detail": "..."}
--- http_config
    llm_provider local type=vllm upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock;
    llm_route default local;
--- config
    location = /mock/chat/completions {
        return 422 '{"detail":"Field required: messages.0.content"}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 422
--- response_body
{"error":{"message":"Field required: messages.0.content","type":"invalid_request_error","param":null,"code":null}}
--- no_error_log
[error]



=== TEST 26: HTML error page: generic message, status kept
--- config
    location = /mock/chat/completions {
        default_type text/html;
        return 502 '<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The model provider returned an error.","type":"api_error","param":null,"code":null}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
llm provider "mock" answered 502



=== TEST 27: provider 401: 502 upstream_auth_error, its message not echoed
--- config
    location = /mock/chat/completions {
        return 401 '{"error":{"message":"Incorrect API key provided: sk-proj-SECRET123. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider rejected the gateway's credentials.","type":"api_error","param":null,"code":"upstream_auth_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
llm provider "mock" rejected the configured key (status 401)
--- no_error_log
SECRET123



=== TEST 28: provider 403: 502 upstream_auth_error
--- config
    location = /mock/chat/completions {
        return 403 '{"error":{"message":"Project proj_SECRET does not have access","type":"invalid_request_error","code":"model_not_found"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider rejected the gateway's credentials.","type":"api_error","param":null,"code":"upstream_auth_error"}}
--- error_log
rejected the configured key (status 403)
--- no_error_log
proj_SECRET



=== TEST 29: provider 529 (overloaded): 503
--- config
    location = /mock/chat/completions {
        return 529 '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 503
--- response_body
{"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":null}}
--- error_log
llm provider "mock" answered 529



=== TEST 30: invalid JSON in a 200: 502 as JSON
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","choices":[';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
upstream sent invalid JSON in a 200 response



=== TEST 31: response over llm_max_response_size: 502
--- config
    location /v1/ {
        llm_pass;
        llm_max_response_size 64;
    }
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"this answer is longer than sixty-four bytes"}}]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
upstream sent too large response: more than 64 bytes



=== TEST 32: compressed response in an encoding not decoded (br): 502
(gzip and deflate are decoded: t/160-upstream-faults.t)
--- config
    location = /mock/chat/completions {
        default_type application/json;
        add_header Content-Encoding br;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
upstream sent a compressed response ("br") though identity was requested



=== TEST 33: stream request answered by a JSON error: JSON error, status kept
--- config
    location = /mock/chat/completions {
        default_type application/json;
        add_header Retry-After 2 always;
        return 429 '{"error":{"message":"Rate limit reached.","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 429
--- response_headers
Content-Type: application/json
Retry-After: 2
!Cache-Control
--- response_body
{"error":{"message":"Rate limit reached.","type":"requests","param":null,"code":"rate_limit_exceeded"}}
--- no_error_log
[error]



=== TEST 34: stream request answered by a 200 JSON error object: 502
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"error":{"message":"Upstream model crashed","type":"server_error","code":"internal"}}';
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"Upstream model crashed","type":"server_error","param":null,"code":"internal"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]



=== TEST 35: stream request answered by a 200 non-stream completion: 502
--- config
    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
upstream answered a stream request with a non-stream response



=== TEST 36: provider error on embeddings: mapped
--- config
    location = /mock/embeddings {
        return 400 '{"error":{"message":"Input too long.","type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}';
    }
--- request
POST /v1/embeddings
{"model":"text-embedding-3-small","input":"hi"}
--- error_code: 400
--- response_body
{"error":{"message":"Input too long.","type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}
--- no_error_log
[error]



=== TEST 37: provider error in a chunked body: mapped
--- config
    location = /mock/chat/completions {
        default_type application/json;
        echo_status 503;
        echo -n '{"error":{"message":"Service ';
        echo_flush;
        echo '  unavailable","type":"server_error","code":"overloaded"}}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 503
--- response_body
{"error":{"message":"Service   unavailable","type":"server_error","param":null,"code":"overloaded"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]



=== TEST 38: provider closes before Content-Length is reached: 502
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: application/json\r
Content-Length: 100\r
\r
{\"id\":\"chatcmpl-1\","
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- error_log
upstream prematurely closed connection



=== TEST 39: invalid chunked framing from the provider: 502
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: application/json\r
Transfer-Encoding: chunked\r
\r
zz\r
{}\r
0\r
\r
"
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
upstream sent invalid chunked response



=== TEST 40: not HTTP at all: 502
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"SSH-2.0-OpenSSH_9.2\r\n"
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
upstream sent no valid HTTP/1.0 header



=== TEST 41: a chunked 200 is decoded and passed
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
["HTTP/1.1 200 OK\r
Content-Type: application/json\r
Transfer-Encoding: chunked\r
\r
b\r
{\"id\":\"c1\",\r
", "1b\r
\"object\":\"chat.completion\"}\r
0\r
\r
"]
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body chomp
{"id":"c1","object":"chat.completion"}
--- no_error_log
[error]
