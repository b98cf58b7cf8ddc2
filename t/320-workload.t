# Workload-aware routing: several llm_route rules for one name, tried in
# the order written, the first whose if= conditions all hold wins
# (stream, tools, images, estimated prompt tokens, any variable); then
# the regular expressions, then default.  Per-target overrides
# (max_tokens=, header=) as the provider receives them, byte for byte.
# Configuration errors fail "nginx -t" with file:line.
#
# Mocks are locations of the test server, one base path per provider;
# the provider that answered is in X-LLM-Provider.

use Test::Nginx::Socket 'no_plan';

our $Reply = '{"id":"c1","object":"chat.completion","model":"m",'
    . '"choices":[{"index":0,"message":{"role":"assistant",'
    . '"content":"ok"},"finish_reason":"stop"}],'
    . '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';

our $Providers = <<'_EOC_';
    llm_provider small  type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                        base=/small key=none;
    llm_provider big    type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                        base=/big key=none;
    llm_provider vision type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                        base=/vision key=none;
    llm_provider tooler type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                        base=/tooler key=none;
    llm_provider long   type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                        base=/long key=none;
    llm_provider sse    type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                        base=/sse key=none;

    map $http_x_llm_tier $premium {
        premium  1;
        default  0;
    }

    llm_route auto big:gpt-big        if=$premium;
    llm_route auto vision:gpt-vision  if=images;
    llm_route auto tooler:gpt-tools   if=tools;
    llm_route auto long:gpt-long      if=tokens>=2000;
    llm_route auto sse:gpt-stream     if=stream;
    llm_route auto small:gpt-small;

    llm_route both sse   if=tools if=stream;
    llm_route both small;

    llm_route neg  big if=!stream;
    llm_route neg  sse;

    llm_route ~^rx- big  if=images;
    llm_route ~^rx- small;

    llm_route exo  big if=tools;
    llm_route ~^ex small;

    llm_route only big if=tools;
_EOC_

our $Mocks = <<'_EOC_';
    location /v1/ {
        llm_pass;
        add_header X-Rule $llm_rule always;
    }

    location /v1beta/ {
        llm_pass;
    }

    location ~ ^/(small|big|vision|tooler|long)/chat/completions$ {
        default_type application/json;
        return 200 '$REPLY';
    }

    location = /sse/chat/completions {
        default_type text/event-stream;
        return 200 'data: {"id":"c-1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"streamed"}}]}\n\ndata: [DONE]\n\n';
    }
_EOC_

sub chat {
    my ($model, $extra, $content) = @_;
    $content //= '"hi"';
    return '{"model":"' . $model . '",' . ($extra // '')
           . '"messages":[{"role":"user","content":' . $content . '}]}';
}

# a chat body of exactly $len bytes, one message
sub sized {
    my ($len) = @_;
    my $b = chat('auto', '', '""');
    my $pad = $len - length $b;
    return chat('auto', '', '"' . ('x' x $pad) . '"');
}

our $Image = '[{"type":"text","text":"what is it?"},{"type":"image_url",'
    . '"image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]';

our $Tools = '"tools":[{"type":"function","function":{"name":"f",'
    . '"parameters":{"type":"object","properties":{}}}}],';

# what a provider at $TEST_NGINX_RAND_PORT_1 receives
sub upreq {
    my ($body, @headers) = @_;

    return "POST /v1/chat/completions HTTP/1.1\r\n"
           . "Host: 127.0.0.1\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Accept: application/json\r\n"
           . "Accept-Encoding: identity\r\n"
           . join('', map { "$_\r\n" } @headers)
           . "\r\n$body";
}

sub reply {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($::Reply) . "\r\n"
           . "Connection: close\r\n\r\n$::Reply";
}

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->must_die) {
        my $http = $block->http_config // $::Providers;
        $block->set_value('http_config', $http);

        my $conf = $block->config // '';
        (my $mocks = $::Mocks) =~ s/\$REPLY/$::Reply/;
        $block->set_value('config', $mocks . $conf);
    }

    $block->set_value('no_error_log', "[alert]\n[emerg]\n[error]")
        unless defined $block->no_error_log || defined $block->must_die;
});

run_tests();

__DATA__

=== TEST 1: no condition holds: the last rule, without if=
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto')
--- response_headers
X-LLM-Provider: small
X-LLM-Model: gpt-small
--- response_body_like: "content":"ok"



=== TEST 2: a variable (map on X-LLM-Tier) that is "1": the first rule
--- more_headers
X-LLM-Tier: premium
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto')
--- response_headers
X-LLM-Provider: big
X-LLM-Model: gpt-big



=== TEST 2a: $llm_rule: the file and line of the rule that matched
--- http_config
    llm_provider small type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                       base=/small key=none;
    llm_provider big   type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                       base=/big key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
# rules of "auto"
llm_route auto big if=images;
llm_route auto big
               if=tools;
llm_route auto small;
--- request eval
["POST /v1/chat/completions\n" . ::chat('auto', '', $::Image),
 "POST /v1/chat/completions\n" . ::chat('auto', $::Tools),
 "POST /v1/chat/completions\n" . ::chat('auto')]
--- response_headers_like eval
["X-Rule: \\S+/html/routes\\.conf:2\$",
 "X-Rule: \\S+/html/routes\\.conf:4\$",
 "X-Rule: \\S+/html/routes\\.conf:5\$"]



=== TEST 3: a variable that is "0" is false
--- more_headers
X-LLM-Tier: basic
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto')
--- response_headers
X-LLM-Provider: small



=== TEST 4: an image part (OpenAI chat): if=images
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto', '', $::Image)
--- response_headers
X-LLM-Provider: vision
X-LLM-Model: gpt-vision



=== TEST 5: first match wins: premium and an image, the premium rule first
--- more_headers
X-LLM-Tier: premium
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto', '', $::Image)
--- response_headers
X-LLM-Provider: big



=== TEST 6: tools: if=tools
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto', $::Tools)
--- response_headers
X-LLM-Provider: tooler



=== TEST 7: an empty tools array is no tools
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto', '"tools":[],')
--- response_headers
X-LLM-Provider: small



=== TEST 8: estimated tokens: ceil(7988 bytes / 4) + 3 x 1 message = 2000,
if=tokens>=2000 holds
--- request eval
"POST /v1/chat/completions\n" . ::sized(7988)
--- response_headers
X-LLM-Provider: long



=== TEST 9: estimated tokens: ceil(7984 / 4) + 3 = 1999: it does not
--- request eval
"POST /v1/chat/completions\n" . ::sized(7984)
--- response_headers
X-LLM-Provider: small



=== TEST 10: messages count: 3 messages of 7972 bytes are
ceil(7972 / 4) + 3 x 3 = 2002 tokens (one message of that size: 1996)
--- request eval
my $b = ::sized(7914);
$b =~ s/\]\}$/,{"role":"user","content":""},{"role":"user","content":""}]}/;
die "bad length" if length($b) != 7972;
"POST /v1/chat/completions\n" . $b
--- response_headers
X-LLM-Provider: long



=== TEST 11: stream: if=stream
--- request eval
"POST /v1/chat/completions\n" . ::chat('auto', '"stream":true,')
--- response_headers
X-LLM-Provider: sse
--- response_body_like: streamed



=== TEST 12: conditions of one rule all hold, or the rule is passed over:
tools without stream
--- request eval
"POST /v1/chat/completions\n" . ::chat('both', $::Tools)
--- response_headers
X-LLM-Provider: small



=== TEST 13: tools and stream: the first rule
--- request eval
"POST /v1/chat/completions\n" . ::chat('both', $::Tools . '"stream":true,')
--- response_headers
X-LLM-Provider: sse



=== TEST 14: a negated condition, if=!stream, non-stream
--- request eval
"POST /v1/chat/completions\n" . ::chat('neg')
--- response_headers
X-LLM-Provider: big



=== TEST 15: if=!stream, a stream goes to the next rule
--- request eval
"POST /v1/chat/completions\n" . ::chat('neg', '"stream":true,')
--- response_headers
X-LLM-Provider: sse
--- response_body_like: streamed



=== TEST 16: rules of a regular expression: the image one
--- request eval
"POST /v1/chat/completions\n" . ::chat('rx-1', '', $::Image)
--- response_headers
X-LLM-Provider: big
X-LLM-Model: rx-1



=== TEST 17: rules of a regular expression: the next one
--- request eval
"POST /v1/chat/completions\n" . ::chat('rx-1')
--- response_headers
X-LLM-Provider: small



=== TEST 18: no rule of the exact name holds: the regular expressions
--- request eval
"POST /v1/chat/completions\n" . ::chat('exo')
--- response_headers
X-LLM-Provider: small



=== TEST 19: no rule holds and no default: 404 model_not_found
--- request eval
"POST /v1/chat/completions\n" . ::chat('only')
--- error_code: 404
--- response_body_like: "code":"model_not_found"



=== TEST 20: Anthropic client with an image block: if=images
--- request eval
"POST /v1/messages\n"
. '{"model":"auto","max_tokens":10,"messages":[{"role":"user","content":'
. '[{"type":"image","source":{"type":"base64","media_type":"image/png",'
. '"data":"iVBORw0KGgo="}},{"type":"text","text":"what?"}]}]}'
--- response_headers
X-LLM-Provider: vision
--- response_body_like: "type":"message"



=== TEST 21: Gemini client with inlineData of an image: if=images
--- request eval
"POST /v1beta/models/auto:generateContent\n"
. '{"contents":[{"role":"user","parts":[{"text":"what?"},{"inlineData":'
. '{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}'
--- response_headers
X-LLM-Provider: vision



=== TEST 22: Gemini client with function declarations: if=tools
--- request eval
"POST /v1beta/models/auto:generateContent\n"
. '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":'
. '[{"functionDeclarations":[{"name":"f","parameters":{"type":"object"}}]}]}'
--- response_headers
X-LLM-Provider: tooler



=== TEST 23: Responses client with an input_image: if=images
--- request eval
"POST /v1/responses\n"
. '{"model":"auto","input":[{"role":"user","content":[{"type":"input_text",'
. '"text":"what?"},{"type":"input_image","image_url":'
. '"data:image/png;base64,iVBORw0KGgo="}]}]}'
--- response_headers
X-LLM-Provider: vision



=== TEST 24: /v1/models lists a name of several rules once
--- request
GET /v1/models
--- response_body_like: \A\{"object":"list","data":\[\{"id":"auto",[^\]]*\{"id":"both",[^\]]*\{"id":"neg",[^\]]*\{"id":"exo",[^\]]*\{"id":"only","object":"model","created":\d+,"owned_by":"big"\}\]\}\s*\z



=== TEST 25: $llm_key_name composes: a rule for one client key
--- http_config
    llm_provider small type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                       base=/small key=none;
    llm_provider big   type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                       base=/big key=none;

    map $llm_key_name $vip {
        ceo      1;
        default  "";
    }

    llm_route auto big if=$vip;
    llm_route auto small;
--- config
    location /v2/ {
        llm_pass;
        llm_keys ../html/keys;
        rewrite ^/v2/(.*)$ /v1/$1 break;
    }
--- user_files
>>> keys
key=sk-ceo-0000000000000000 name=ceo
key=sk-dev-0000000000000000 name=dev
--- request eval
["POST /v2/chat/completions\n" . ::chat('auto'),
 "POST /v2/chat/completions\n" . ::chat('auto')]
--- more_headers eval
["Authorization: Bearer sk-ceo-0000000000000000",
 "Authorization: Bearer sk-dev-0000000000000000"]
--- response_headers eval
["X-LLM-Provider: big", "X-LLM-Provider: small"]



=== TEST 26: per-target max_tokens and headers (OpenAI passthrough), as the
provider receives them: max_tokens first in the body, the target's
header replaces the provider's of the same name
--- http_config
    llm_provider raw type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                     key=none header=X-Team:core header=X-Keep:1;
    llm_route ov raw:gpt-4o-mini max_tokens=256 header=X-Team:ai
                 "header=X-Extra:two words";
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"max_tokens":256,"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
        'X-Keep: 1', 'X-Team: ai', 'X-Extra: two words')
--- tcp_reply eval
::reply()
--- request eval
"POST /v1/chat/completions\n" . ::chat('ov')
--- response_body_like: "content":"ok"



=== TEST 27: per-target max_tokens: the client's own max_tokens is kept
--- http_config
    llm_provider raw type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                     key=none;
    llm_route ov raw:gpt-4o-mini max_tokens=256;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o-mini","max_completion_tokens":9,"messages":[{"role":"user","content":"hi"}]}')
--- tcp_reply eval
::reply()
--- request eval
"POST /v1/chat/completions\n" . ::chat('ov', '"max_completion_tokens":9,')
--- response_body_like: "content":"ok"



=== TEST 28: per-target max_tokens, translated (Anthropic client with
max_tokens: the client's; Gemini client without: the target's)
--- http_config
    llm_provider raw type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                     key=none;
    llm_route ov raw:gpt-4o-mini max_tokens=256;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":256}')
--- tcp_reply eval
::reply()
--- request eval
"POST /v1beta/models/ov:generateContent\n"
. '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
--- response_body_like: "text":"ok"



=== TEST 29: overrides of a fallback target: its headers after a failure
--- http_config
    upstream dead { server 127.0.0.1:1; }
    llm_provider down type=openai upstream=dead key=none;
    llm_provider raw  type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                      key=none;
    llm_route fo down fallback=raw:gpt-4o-mini header=X-Fallback:yes;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
::upreq('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
        'X-Fallback: yes')
--- tcp_reply eval
::reply()
--- request eval
"POST /v1/chat/completions\n" . ::chat('fo')
--- response_headers
X-LLM-Attempts: 2
X-LLM-Provider: raw
--- no_error_log
[alert]
[emerg]



=== TEST 30: an unknown condition
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route a mock;
llm_route b mock
            if=vision;
--- must_die
--- error_log eval
qr{\[emerg\] .*: invalid condition "if=vision" in llm_route "b", use if=stream, if=tools, if=images, if=\$variable \(each may be negated with "!"\) or if=tokens>N \(<, <=, >=\) in \S+/html/routes\.conf:3$}



=== TEST 31: tokens without a number
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route b mock if=tokens>lots;
--- must_die
--- error_log eval
qr{\[emerg\] .*: invalid condition "if=tokens>lots" in llm_route "b".* in \S+/html/routes\.conf:1$}



=== TEST 32: tokens with "!"
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route b mock if=!tokens>5;
--- must_die
--- error_log eval
qr{\[emerg\] .*: invalid condition "if=!tokens>5" in llm_route "b".* in \S+/html/routes\.conf:1$}



=== TEST 33: tokens with "=" only
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route b mock if=tokens=5;
--- must_die
--- error_log eval
qr{\[emerg\] .*: invalid condition "if=tokens=5" in llm_route "b".* in \S+/html/routes\.conf:1$}



=== TEST 34: an unknown variable
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route b mock if=$no_such_thing;
--- must_die
--- error_log
unknown "no_such_thing" variable



=== TEST 35: a rule after one without if= is never used
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route a mock if=tools;
llm_route a mock;
llm_route a mock if=stream;
--- must_die
--- error_log eval
qr{\[emerg\] .*: duplicate llm_route "a" in \S+/html/routes\.conf:3$}



=== TEST 36: a regular expression's rule after one without if=
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route ~^a mock;
llm_route ~^a mock if=stream;
--- must_die
--- error_log eval
qr{\[emerg\] .*: duplicate llm_route "~\^a" in \S+/html/routes\.conf:2$}



=== TEST 37: max_tokens= before any target
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route a max_tokens=5 mock;
--- must_die
--- error_log eval
qr{\[emerg\] .*: invalid parameter "max_tokens=5" in \S+/html/routes\.conf:1$}



=== TEST 38: max_tokens=0 of a target
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route a mock max_tokens=0;
--- must_die
--- error_log eval
qr{\[emerg\] .*: invalid parameter "max_tokens=0" in \S+/html/routes\.conf:1$}



=== TEST 39: a target's header= that the module sets
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route a mock header=content-length:5;
--- must_die
--- error_log eval
qr{\[emerg\] .*: header "Content-Length" in llm_route "a" is set by the module in \S+/html/routes\.conf:1$}



=== TEST 40: a target's header= without a colon
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route a mock header=X-A;
--- must_die
--- error_log eval
qr{\[emerg\] .*: invalid header "X-A" in llm_route "a", use header=Name:value in \S+/html/routes\.conf:1$}



=== TEST 41: per-target max_tokens and header, Anthropic target of an
OpenAI client without max_tokens: the target's, not the provider's
--- http_config
    llm_provider ant type=anthropic upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                     key=none max_tokens=4096;
    llm_route ova ant:claude-x max_tokens=77 header=X-Team:ai;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
my $b = '{"model":"claude-x","max_tokens":77,"messages":[{"role":"user",'
        . '"content":[{"type":"text","text":"hi"}]}]}';
"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
. "Content-Type: application/json\r\nContent-Length: " . length($b) . "\r\n"
. "Accept: application/json\r\nAccept-Encoding: identity\r\n"
. "anthropic-version: 2023-06-01\r\nX-Team: ai\r\n\r\n$b"
--- tcp_reply eval
my $b = '{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",'
        . '"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn",'
        . '"usage":{"input_tokens":5,"output_tokens":3}}';
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
. length($b) . "\r\nConnection: close\r\n\r\n$b"
--- request eval
"POST /v1/chat/completions\n" . ::chat('ova')
--- response_body_like: "content":"ok"



=== TEST 42: per-target max_tokens with a stream (passthrough): both
insertions after the opening brace
--- http_config
    llm_provider raw type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                     key=none;
    llm_route ov raw:gpt-x max_tokens=77;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
my $b = '{"max_tokens":77,"stream_options":{"include_usage":true},'
        . '"model":"gpt-x","stream":true,"messages":[{"role":"user",'
        . '"content":"hi"}]}';
"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
. "Content-Type: application/json\r\nContent-Length: " . length($b) . "\r\n"
. "Accept: text/event-stream\r\nAccept-Encoding: identity\r\n\r\n$b"
--- tcp_reply eval
my $e = 'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-x",'
        . '"choices":[{"index":0,"delta":{"content":"ok"}}]}' . "\n\n"
        . "data: [DONE]\n\n";
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
. "Content-Length: " . length($e) . "\r\nConnection: close\r\n\r\n$e"
--- request eval
"POST /v1/chat/completions\n" . ::chat('ov', '"stream":true,')
--- response_body_like: "content":"ok"
