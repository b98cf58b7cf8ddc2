# The Azure OpenAI provider (type=azure): the OpenAI wire format with
# Azure's URLs and header.  The exact request line and headers with
# tcp_listen/tcp_query: the classic deployment URL with api-version, the
# v1 endpoint (version=v1), embeddings, "api-key" instead of
# Authorization; recorded Azure answers (t/fixtures: envoyproxy's
# azure-chat-basic, vercel's azure-model-router stream with its
# "choices":[] prompt filter chunk) passed through unchanged to OpenAI
# clients and translated for Anthropic clients (POST /v1/messages).

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too

use File::Basename ();

$ENV{AZURE_TEST_KEY} = 'azk-CANARY-test-5d1e';

our $Fixtures = File::Basename::dirname(__FILE__) . '/fixtures';

our $Basic = 'derived/envoyproxy-ai-gateway/azure-chat-basic';
our $Chunks = 'vercel-ai/packages/openai/src/chat/__fixtures__/'
              . 'azure-model-router.1.chunks.txt';

sub fixture {
    my $path = shift;

    open my $fh, '<:raw', "$Fixtures/$path" or die "$path: $!";
    local $/;
    return <$fh>;
}

# the recorded chunks as the SSE stream Azure sends
sub sse {
    my $sse = '';

    for my $line (split /\n/, fixture($Chunks)) {
        $sse .= "data: $line\n\n";
    }

    return $sse . "data: [DONE]\n\n";
}

# the request Azure gets
sub upreq {
    my ($uri, $body, %o) = @_;

    return "POST $uri HTTP/1.1\r\n"
           . "Host: res.openai.azure.com\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . 'Accept: ' . ($o{stream} ? 'text/event-stream'
                                      : 'application/json') . "\r\n"
           . "Accept-Encoding: identity\r\n"
           . "api-key: $ENV{AZURE_TEST_KEY}\r\n"
           . "\r\n$body";
}

sub reply {
    my ($body, $type) = @_;

    return "HTTP/1.1 200 OK\r\nContent-Type: "
           . ($type // 'application/json') . "\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

# nginx configuration text that sends "s" with the echo module
sub echo_text {
    my $s = shift;
    my $conf = '';

    die "a \"\$\" would be a variable for echo" if $s =~ /\$/;

    while (length $s) {
        my $piece = substr($s, 0, 1024, '');

        $piece =~ s/\\/\\\\/g;
        $piece =~ s/'/\\'/g;
        $piece =~ s/\r/\\r/g;
        $piece =~ s/\n/\\n/g;

        $conf .= "        echo -n '$piece';\n";
    }

    return $conf;
}

# a mock Azure deployment replaying the recorded stream event by event
sub mock_sse {
    my $uri = shift;

    my $conf = "    location = $uri {\n"
               . "        default_type text/event-stream;\n";

    for my $event (split /(?<=\n\n)/, sse()) {
        $conf .= echo_text($event) . "        echo_flush;\n";
    }

    return $conf . "    }\n";
}

sub mock_json {
    my ($uri, $body) = @_;

    return "    location = $uri {\n"
           . "        default_type application/json;\n"
           . echo_text($body)
           . "    }\n";
}

repeat_each(2);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider az type=azure upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 host=res.openai.azure.com base=/mock/openai
                 version=2024-12-01-preview key=env:AZURE_TEST_KEY;
    llm_route gpt az:gpt-5-nano;
    llm_route default az;
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

=== TEST 1: classic URL: the deployment from the upstream model, the
api-version, api-key and no Authorization; the body passed through with
the model replaced; the answer unchanged with its filter results
--- http_config
    llm_provider az type=azure upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=res.openai.azure.com
                 version=2024-12-01-preview key=env:AZURE_TEST_KEY;
    llm_route gpt az:gpt-5-nano;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('/openai/deployments/gpt-5-nano/chat/completions'
            . '?api-version=2024-12-01-preview',
            '{"messages": [{"content": "Hello!", "role": "user"}], '
            . '"model": "gpt-5-nano"}')
--- tcp_reply eval
main::reply(main::fixture("$::Basic/0.response.json"))
--- request eval
"POST /v1/chat/completions\n"
. '{"messages": [{"content": "Hello!", "role": "user"}], "model": "gpt"}'
--- more_headers
Authorization: Bearer client-secret
--- response_body eval
main::fixture("$::Basic/0.response.json")
--- response_headers
X-LLM-Provider: az
X-LLM-Model: gpt-5-nano
--- no_error_log
[error]



=== TEST 2: the v1 endpoint with version=v1: no deployment, no
api-version, the model in the body
--- http_config
    llm_provider az type=azure upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=res.openai.azure.com version=v1
                 key=env:AZURE_TEST_KEY;
    llm_route default az;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('/openai/v1/chat/completions',
            '{"model":"gpt-5-nano","messages":[{"role":"user",'
            . '"content":"Hello!"}]}')
--- tcp_reply eval
main::reply(main::fixture("$::Basic/0.response.json"))
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-5-nano","messages":[{"role":"user","content":"Hello!"}]}'
--- response_body eval
main::fixture("$::Basic/0.response.json")
--- no_error_log
[error]



=== TEST 3: embeddings on the deployment URL; a deployment name is one
escaped path segment
--- http_config
    llm_provider az type=azure upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=res.openai.azure.com version=2024-10-21
                 key=env:AZURE_TEST_KEY;
    llm_route emb az:my/emb;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('/openai/deployments/my%2Femb/embeddings'
            . '?api-version=2024-10-21',
            '{"model":"my/emb","input":"hi"}')
--- tcp_reply eval
main::reply('{"object":"list","data":[{"object":"embedding","index":0,'
            . '"embedding":[0.1,0.2]}],"model":"text-embedding-3-small",'
            . '"usage":{"prompt_tokens":1,"total_tokens":1}}')
--- request eval
"POST /v1/embeddings\n" . '{"model":"emb","input":"hi"}'
--- response_body_like: "embedding":\[0.1,0.2\]
--- no_error_log
[error]



=== TEST 4: a stream: stream_options added for usage; the recorded
stream (first chunk "choices":[] with prompt_filter_results,
content_filter_results in every choice) reaches an OpenAI client as it
is; the usage chunk it did not ask for is removed
--- config eval
main::mock_sse('/mock/openai/deployments/gpt-5-nano/chat/completions')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}'
--- response_body eval
my $s = main::sse();
$s =~ s/data: \{"choices":\[\],"created":1762317021[^\n]*\n\n//;
$s
--- response_headers
Content-Type: text/event-stream
--- no_error_log
[error]



=== TEST 5: a stream whose client asked for usage keeps all of it
--- config eval
main::mock_sse('/mock/openai/deployments/gpt-5-nano/chat/completions')
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt","stream":true,"stream_options":{"include_usage":true},'
. '"messages":[{"role":"user","content":"hi"}]}'
--- response_body eval
main::sse()
--- no_error_log
[error]



=== TEST 6: an Anthropic client of Azure: the answer translated, the
filter results dropped
--- config eval
main::mock_json('/mock/openai/deployments/gpt-5-nano/chat/completions',
                main::fixture("$::Basic/0.response.json"))
--- request eval
"POST /v1/messages\n"
. '{"model":"gpt","max_tokens":256,"messages":[{"role":"user",'
. '"content":"Hello!"}]}'
--- response_body_like eval
'^\{"id":"chatcmpl-CM9n9OhFOl4lSSFwarLEIMnPrNWSP","type":"message",'
. '"role":"assistant","model":"gpt","content":\[\{"type":"text",'
. '"text":"Hi there! How can I help today\?.*"stop_reason":"end_turn",'
. '"stop_sequence":null,"usage":\{"input_tokens":8,'
. '"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
. '"output_tokens":271\}\}$'
--- no_error_log
[error]



=== TEST 7: an Anthropic client's request to Azure: written as an
OpenAI body (max_completion_tokens, usage asked) on the deployment URL
--- http_config
    llm_provider az type=azure upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 host=res.openai.azure.com
                 version=2024-12-01-preview key=env:AZURE_TEST_KEY;
    llm_route gpt az:gpt-5-nano;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
main::upreq('/openai/deployments/gpt-5-nano/chat/completions'
            . '?api-version=2024-12-01-preview',
            '{"model":"gpt-5-nano","messages":[{"role":"user",'
            . '"content":"hi"}],"max_completion_tokens":256,'
            . '"stream":true,"stream_options":{"include_usage":true}}',
            stream => 1)
--- tcp_reply eval
main::reply(main::sse(), 'text/event-stream')
--- request eval
"POST /v1/messages\n"
. '{"model":"gpt","max_tokens":256,"stream":true,"messages":[{"role":"user",'
. '"content":"hi"}]}'
--- response_body_like eval
'^event: message_start\ndata: \{"type":"message_start","message":'
. '\{"id":"chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt".*'
. '"text":"Capital".*"text":" Denmark".*"stop_reason":"end_turn".*'
. '"output_tokens":78\}\}\n\nevent: message_stop\n'
. 'data: \{"type":"message_stop"\}\n\n$'
--- no_error_log
[error]



=== TEST 8: azure needs version=
--- http_config
    llm_provider az type=azure upstream=127.0.0.1:1 key=env:AZURE_TEST_KEY;
    llm_route default az;
--- config
--- must_die
--- error_log
llm_provider "az" of type "azure" needs "version=" (an api-version, or "v1")
