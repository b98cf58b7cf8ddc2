# A client that goes away in the middle of a stream is charged for what
# was produced, not for its reservation: the provider's counts seen so far
# (Anthropic's message_start: the input tokens), the completion estimated
# from the text streamed (4 bytes a token), $llm_usage "estimated".  The
# key's budget and the zone's counters (llm_status json) show the same.
# A stream the provider cuts short (its read timeout) is charged alike.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use t::LLMServer;

my $s = t::LLMServer->new(workers => 1);

plan skip_all => 'module not built' if !$s->module_found;

my $Key = 'sk-abort-CANARY-0a1b2c3d4e5f6a7b';

# 40 bytes of text in 4 deltas of 10 before the pause
my $delta = join '', map {
    qq{echo -n 'event: content_block_delta\\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"chunk-$_-xx"}}\\n\\n';\n        echo_flush;\n        echo_sleep 0.05;\n        }
} 1 .. 4;

# the JSON access log of conf-examples/virtual-keys.conf, as it is there
my ($json_fmt) = do {
    open my $fh, '<', 'conf-examples/virtual-keys.conf' or die $!;
    local $/;
    <$fh> =~ /(log_format\s+llm_json\s+escape=json\s[^;]+;)/s;
};

die 'no llm_json log_format in conf-examples/virtual-keys.conf'
    if !$json_fmt;

$s->start(<<"_EOC_");
    $json_fmt

    log_format usage '\$llm_key_name \$llm_usage \$llm_prompt_tokens '
                     '\$llm_completion_tokens \$llm_cost \$status';

    llm_zone llm:1m;
    llm_provider claude type=anthropic upstream=127.0.0.1:__PORT__
                 base=/ant key=none;
    llm_provider openai type=openai upstream=127.0.0.1:__PORT__
                 base=/oai key=none;
    llm_route claude-x claude;
    llm_route gpt-x openai;
    llm_price claude-x input=1 output=10;
    llm_key key=$Key name=abort budget_tokens=100000/day;

    server {
        listen 127.0.0.1:__PORT__;

        location /v1/ {
            llm_pass;
            llm_read_timeout 1s;
            access_log __ROOT__/logs/usage.log usage;
            access_log __ROOT__/logs/llm.json llm_json;
        }

        location = /status {
            llm_status json;
        }

        # message_start says 25 input tokens; 4 deltas, then a long pause
        location = /ant/messages {
            default_type text/event-stream;
            echo_read_request_body;
            echo -n 'event: message_start\\ndata: {"type":"message_start","message":{"id":"msg_a","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":25,"output_tokens":1}}}\\n\\nevent: content_block_start\\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\\n\\n';
            echo_flush;
            $delta
            echo_sleep 3;
            echo -n 'event: message_delta\\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":400}}\\n\\nevent: message_stop\\ndata: {"type":"message_stop"}\\n\\n';
        }

        # OpenAI passthrough: no usage until the end, which never comes
        location = /oai/chat/completions {
            default_type text/event-stream;
            echo_read_request_body;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"0123456789abcdef"}}]}\\n\\n';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"0123456789abcdef"}}]}\\n\\n';
            echo_flush;
            echo_sleep 3;
            echo -n 'data: [DONE]\\n\\n';
        }
    }
_EOC_

sub body {
    my ($model) = @_;
    return '{"model":"' . $model . '","stream":true,"max_tokens":5000,'
           . '"messages":[{"role":"user","content":"' . ('x' x 200) . '"}]}';
}

# reads until $want is seen (or 5 s), then closes: what was read
sub read_then_close {
    my ($sock, $want) = @_;
    my $buf = '';
    my $sel = IO::Select->new($sock);
    my $deadline = time + 5;

    while (time < $deadline && index($buf, $want) < 0) {
        last if !$sel->can_read(0.5);
        my $n = sysread($sock, my $chunk, 65536);
        last if !$n;
        $buf .= $chunk;
    }

    close $sock;
    return $buf;
}

sub log_line {
    my ($n) = @_;
    my @l;

    for (1 .. 100) {
        @l = split /\n/, $s->read_file('logs/usage.log');
        last if @l >= $n;
        select undef, undef, undef, 0.05;
    }

    return $l[$n - 1] // '';
}

sub status {
    my $r = $s->request(GET => '/status');
    return eval { decode_json($r->{body}) } // {};
}

# -- Anthropic provider, OpenAI client: gone after the 4th delta ------------

{
    my $sock = $s->begin(t::LLMServer::raw(POST => '/v1/chat/completions',
                                           body('claude-x'),
                                           "Authorization: Bearer $Key"));

    my $read = read_then_close($sock, 'chunk-4-xx');

    like($read, qr/chunk-4-xx/, 'the client read 4 deltas');
    unlike($read, qr/\[DONE\]/, 'and left before the end');

    # 25 input tokens from message_start; 40 bytes of text: 10 tokens
    is(log_line(1), 'abort estimated 25 10 0.000125 200',
       '$llm_usage estimated, the input of message_start, 40 bytes of '
       . 'text as 10 tokens, their cost');

    my $st = status();
    my ($k) = grep { $_->{name} eq 'abort' } @{ $st->{keys} // [] };

    is_deeply($k->{tokens}, { prompt => 25, completion => 10 },
              'the key is charged 25 + 10, not its reservation of 5000');
}

# -- OpenAI passthrough: no usage seen at all -------------------------------

{
    my $sock = $s->begin(t::LLMServer::raw(POST => '/v1/chat/completions',
                                           body('gpt-x'),
                                           "x-api-key: $Key"));

    my $read = read_then_close($sock, '"content":"0123456789abcdef"}}]}'
                                      . "\n\ndata: {");

    like($read, qr/0123456789abcdef.*0123456789abcdef/s,
         'the client read 2 chunks');

    # the prompt estimated from the body (4 bytes a token): 268 bytes
    my $prompt = int((length(body('gpt-x')) + 3) / 4);

    is(log_line(2), "abort estimated $prompt 8 - 200",
       'no usage from the provider: prompt from the body, 32 bytes of text '
       . 'as 8 tokens');

    my ($k) = grep { $_->{name} eq 'abort' } @{ status()->{keys} // [] };

    is_deeply($k->{tokens}, { prompt => 25 + $prompt, completion => 18 },
              'the key is charged both partial streams');
}

# -- the provider stalls past llm_read_timeout: charged alike ---------------

{
    my $r = $s->request(POST => '/v1/chat/completions', body('claude-x'),
                        "Authorization: Bearer $Key");

    like($r->{body}, qr/chunk-4-xx.*timed out/s,
         'the stream ends with an error event after the read timeout');

    is(log_line(3), 'abort estimated 25 10 0.000125 200',
       'a stream cut by the provider is charged what was produced');

    my $st = status();
    my ($series) = grep { $_->{model} eq 'claude-x' } @{ $st->{series} // [] };

    is($series->{errors}{timeout}, 1, 'counted as a timeout error');
    is($series->{errors}{client}, 1,
       'the client that went away counted as a client error');
    is($series->{errors}{upstream}, 0, 'neither as an upstream error');
    is($series->{time_to_first_token}{count}, 2,
       'two streams with text: two times to first token');
    cmp_ok($series->{time_to_first_token}{sum}, '<', 1,
           'each well under a second');
}

# -- the example's JSON log: one valid object a request ---------------------

{
    my @j = map { eval { decode_json($_) } }
            split /\n/, $s->read_file('logs/llm.json');

    is(scalar @j, 3, 'conf-examples JSON log: 3 lines of valid JSON');
    is_deeply([ map { [ @$_{qw(key usage prompt_tokens completion_tokens
                                attempts)} ] } @j[0, 1] ],
              [ [ 'abort', 'estimated', 25, 10, 1 ],
                [ 'abort', 'estimated', int((length(body('gpt-x')) + 3) / 4), 8, 1 ] ],
              'key, usage, tokens and attempts in it');
    like($j[0]{ttfb} // '', qr/^\d+\.\d{3}$/, 'the time to first byte');
    like($j[0]{ttft} // '', qr/^0\.\d{3}$/, 'the time to first token');
}

my $log = $s->error_log_since(0);

unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert, crit or emerg');

$s->stop;

done_testing();
