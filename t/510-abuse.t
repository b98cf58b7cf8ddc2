# Abuse: what a hostile or broken client can send, on every surface
# (OpenAI chat, Anthropic /v1/messages, OpenAI /v1/responses, Gemini
# generateContent): bodies over client_max_body_size, deeply nested JSON,
# huge numbers of messages and tools, invalid UTF-8, CR/LF and NUL in
# model names and keys.  Each gets a clean answer: a 4xx JSON error in the
# client's format (or a 200 when the request is legitimate, only large),
# the one worker stays the same process (no "exited on signal"), its RSS
# stays bounded, and nothing reaches the provider's request line or
# headers (the mocks log what they receive).

use strict;
use warnings;

use Test::More;
use t::LLMServer;

my $s = t::LLMServer->new(workers => 1);

plan skip_all => 'module not built' if !$s->module_found;

my $chat_reply = '{"id":"chatcmpl-a","object":"chat.completion",'
    . '"created":1,"model":"m","choices":[{"index":0,"message":'
    . '{"role":"assistant","content":"ok"},"finish_reason":"stop"}],'
    . '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';

my $gem_reply = '{"candidates":[{"content":{"parts":[{"text":"ok"}],'
    . '"role":"model"},"finishReason":"STOP","index":0}],'
    . '"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1,'
    . '"totalTokenCount":2}}';

# every request the mocks receive: its request line and the headers an
# injection would add or change
my $http = <<"_EOC_";
    log_format up '\$request|\$http_x_injected|\$http_x_goog_api_key|'
                  '\$http_authorization|\$content_length';

    client_max_body_size 1m;
    client_body_buffer_size 128k;

    llm_provider mock type=openai upstream=127.0.0.1:__PORT__ base=/mock
                 key=file:__ROOT__/conf/mock.key;
    llm_provider gem type=gemini upstream=127.0.0.1:__PORT__ base=/gmock
                 key=file:__ROOT__/conf/gem.key;
    llm_route ~^gem gem;
    llm_route default mock;
    llm_keys __ROOT__/conf/keys;

    server {
        listen 127.0.0.1:__PORT__;

        location /v1/ {
            llm_pass;
        }

        location /v1beta/ {
            llm_pass;
        }

        location /mock/ {
            access_log __ROOT__/logs/upstream.log up;
            default_type application/json;
            return 200 '$chat_reply';
        }

        location /gmock/ {
            access_log __ROOT__/logs/upstream.log up;
            default_type application/json;
            return 200 '$gem_reply';
        }
    }
_EOC_

my $KEY = 'sk-abuse-0000000000000000000000';

$s->start($http, "conf/keys" => "key=$KEY name=abuser\n",
         "conf/mock.key" => "sk-upstream-secret\n",
         "conf/gem.key" => "gm-upstream-secret\n");

my $worker;

for (1 .. 100) {
    last if $worker = ($s->worker_pids)[0];
    select undef, undef, undef, 0.05;
}

sub rss {
    open my $fh, '<', "/proc/$worker/status" or return 0;
    while (<$fh>) {
        return $1 if /^VmRSS:\s+(\d+)/;
    }
    return 0;
}

# the surfaces: a path and a body builder from (model, messages JSON
# fragment in the surface's own format, extra top-level members)
my %surface = (
    chat => {
        path => sub { '/v1/chat/completions' },
        body => sub {
            my ($model, $n, $extra) = @_;
            return '{"model":' . $model . ',"messages":['
                . join(',', ('{"role":"user","content":"hi"}') x $n)
                . ']' . ($extra // '') . '}';
        },
        tool => '{"type":"function","function":{"name":"f%d",'
                . '"parameters":{"type":"object"}}}',
        error => qr/^\{"error":\{"message":"[^"]+","type":"\w+"/,
    },
    messages => {
        path => sub { '/v1/messages' },
        body => sub {
            my ($model, $n, $extra) = @_;
            return '{"model":' . $model . ',"max_tokens":16,"messages":['
                . join(',', ('{"role":"user","content":"hi"}') x $n)
                . ']' . ($extra // '') . '}';
        },
        tool => '{"name":"f%d","input_schema":{"type":"object"}}',
        error => qr/^\{"type":"error","error":\{"type":"\w+","message":"/,
    },
    responses => {
        path => sub { '/v1/responses' },
        body => sub {
            my ($model, $n, $extra) = @_;
            return '{"model":' . $model . ',"input":['
                . join(',', ('{"role":"user","content":"hi"}') x $n)
                . ']' . ($extra // '') . '}';
        },
        tool => '{"type":"function","name":"f%d",'
                . '"parameters":{"type":"object"}}',
        error => qr/^\{"error":\{"message":"[^"]+","type":"\w+"/,
    },
    gemini => {
        # the model is in the path: the JSON model is ignored
        path => sub { '/v1beta/models/' . ($_[0] // 'gpt-4o')
                      . ':generateContent' },
        body => sub {
            my ($model, $n, $extra) = @_;
            return '{"contents":['
                . join(',', ('{"role":"user","parts":[{"text":"hi"}]}') x $n)
                . ']' . ($extra // '') . '}';
        },
        tool => '{"functionDeclarations":[{"name":"f%d"}]}',
        tools_member => 'tools',
        error => qr/^\{"error":\{"code":4\d\d,"message":"[^"]+","status":"/,
    },
);

my @surfaces = qw(chat messages responses gemini);

sub post {
    my ($path, $body, @h) = @_;
    return $s->request(POST => $path, $body,
                       "Authorization: Bearer $KEY", @h);
}

sub clean_4xx {
    my ($r, $sf, $what, $code) = @_;

    my $ok = $r->{status} >= 400 && $r->{status} < 500
             && ($r->{headers}{'content-type'} // '') =~ m{application/json}
             && $r->{body} =~ $surface{$sf}{error};

    $ok &&= $r->{status} == $code if defined $code;

    ok($ok, "$sf: $what: clean " . ($code // '4xx') . " JSON (got "
            . "$r->{status} " . substr($r->{body}, 0, 160) . ')');
}

my $log_start = $s->error_log_size;
my $rss0;

# a few ordinary requests first: pools and buffers at their usual size
for my $sf (@surfaces) {
    my $S = $surface{$sf};
    my $r = post($S->{path}->(), $S->{body}->('"gpt-4o"', 1));
    is($r->{status}, 200, "$sf: an ordinary request passes");
}

$rss0 = rss();

for my $round (1 .. 2) {

for my $sf (@surfaces) {
    my $S = $surface{$sf};
    my $path = $S->{path}->();
    my ($r, $b);

    # over client_max_body_size (1m): nginx's 413, in the client's format
    $b = $S->{body}->('"gpt-4o"', 1,
                      ',"metadata":{"pad":"' . ('x' x (1100 * 1024)) . '"}');
    $r = post($path, $b);
    clean_4xx($r, $sf, 'body over client_max_body_size', 413);

    # deeply nested JSON
    for my $depth (200, 100_000) {
        $b = $S->{body}->('"gpt-4o"', 1,
                          ',"x":' . ('[' x $depth) . (']' x $depth));
        $r = post($path, $b);
        clean_4xx($r, $sf, "JSON nested $depth deep", 400);
    }

    # unterminated nesting, as a truncated body would be
    $r = post($path, '{"a":' . ('{"a":' x 50_000));
    clean_4xx($r, $sf, 'unterminated nesting', 400);

    # many messages: legitimate, large (about 640 KB): answered
    $r = post($path, $S->{body}->('"gpt-4o"', 20_000));
    ok($r->{status} == 200
       || ($r->{status} >= 400 && $r->{status} < 500
           && $r->{body} =~ $S->{error}),
       "$sf: 20,000 messages: 200 or a clean 4xx (got $r->{status})");

    # many tools
    my $tools = join(',', map { sprintf $S->{tool}, $_ } 1 .. 10_000);
    $b = $S->{body}->('"gpt-4o"', 1,
                      ',"' . ($S->{tools_member} // 'tools') . '":['
                      . $tools . ']');
    $r = post($path, $b);
    ok($r->{status} == 200
       || ($r->{status} >= 400 && $r->{status} < 500
           && $r->{body} =~ $S->{error}),
       "$sf: 10,000 tools: 200 or a clean 4xx (got $r->{status})");

    # 300,000 elements in an array: 4.8 MB of tokens for the translators
    $b = $S->{body}->('"gpt-4o"', 1,
                      ',"x":[' . join(",", (0) x 300_000) . ']');
    $r = post($path, $b);
    ok($r->{status} == 200
       || ($r->{status} >= 400 && $r->{status} < 500
           && $r->{body} =~ $S->{error}),
       "$sf: 300,000 array elements: 200 or a clean 4xx "
       . "(got $r->{status})");

    # invalid UTF-8 in a string: a lone continuation byte, an overlong
    # "/", a surrogate, a truncated sequence, bytes past U+10FFFF
    for my $bad ("\x80", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82",
                 "\xf4\x90\x80\x80", "\xff") {
        (my $b2 = $S->{body}->('"gpt-4o"', 1)) =~ s/"hi"/"h${bad}i"/;
        $r = post($path, $b2);
        clean_4xx($r, $sf, sprintf('invalid UTF-8 %s',
                                   unpack('H*', $bad)), 400);
    }

    # valid UTF-8 passes
    ($b = $S->{body}->('"gpt-4o"', 1)) =~ s/"hi"/"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80i"/;
    $r = post($path, $b);
    is($r->{status}, 200, "$sf: valid multi-byte UTF-8 passes");

    # control characters and header injection in the model name
    next if $sf eq 'gemini';    # the model is in the URL: below

    for my $m ('"gpt-4o\r\nX-Injected: yes"', '"gpt\u0000x"',
               '"gpt-4o\\r\\nX-Injected: yes"', '"gem\\r\\nX-Injected: 1"',
               '"gem/../../x?y#z\\r\\nX-Injected: 1"', '"gpt\\u0000x"',
               '"gem\\u0000\\n"')
    {
        $r = post($path, $S->{body}->($m, 1));
        ok(($r->{status} == 200 || ($r->{status} >= 400 && $r->{status} < 500
                                   && $r->{body} =~ $S->{error}))
           && $r->{body} !~ /X-Injected: yes\r\n/
           && $r->{raw} !~ /\r\nX-Injected/i,
           "$sf: model $m: 200 or a clean 4xx (got $r->{status} "
           . substr($r->{body}, 0, 120) . ')');
    }
}

# the Gemini model in the path: encoded CR LF, "/", ".." and "?"; a path
# that does not name a model's method after normalization is an unknown
# endpoint (404, in OpenAI's format: there is no surface to say it in)
for my $m ('gem%0D%0AX-Injected:%201', 'gpt%0D%0AX-Injected:%201',
           'gem%3Fx', 'gem%23x', 'gem%5Cx', 'gem..x',
           'gem%2F..%2F..%2Fx', 'gem/../../x')
{
    my $r = post($surface{gemini}{path}->($m),
                 $surface{gemini}{body}->(undef, 1));
    ok(($r->{status} == 200
        || ($r->{status} >= 400 && $r->{status} < 500
            && ($r->{body} =~ $surface{gemini}{error}
                || $r->{status} == 404
                   && $r->{body} =~ $surface{chat}{error})))
       && $r->{raw} !~ /\r\nX-Injected/i,
       "gemini: model $m in the path: 200 or a clean 4xx "
       . "(got $r->{status} " . substr($r->{body}, 0, 120) . ')');
}

# a NUL in the path: nginx refuses the request line itself (its own 400,
# before any location)
{
    my $r = post($surface{gemini}{path}->('gem%00x'),
                 $surface{gemini}{body}->(undef, 1));
    is($r->{status}, 400, 'gemini: a NUL in the path: 400 (nginx)');
}

# keys: CR/LF cannot be sent in a header (nginx refuses the request line),
# but other bytes can: unknown keys are refused, and never echoed
for my $k ("sk-abuse\x01", "sk-abuse\x7f", "sk-\xff\xfe", "\t$KEY\x01",
           'x' x 4000, "$KEY x-injected: 1", "$KEY\x0bx")
{
    my $r = $s->request(POST => '/v1/chat/completions',
                        $surface{chat}{body}->('"gpt-4o"', 1),
                        "Authorization: Bearer $k");
    ok(($r->{status} == 401 || $r->{status} == 400)
       && index($r->{body}, $k) < 0,
       'a key with odd bytes: 401 or 400, not echoed (got '
       . "$r->{status} for " . unpack('H*', substr($k, 0, 40)) . ')');
}

my $r = $s->request(POST => '/v1/chat/completions',
                    $surface{chat}{body}->('"gpt-4o"', 1),
                    "Authorization: Bearer sk-a\0b");
ok($r->{status} == 400 || $r->{status} == 401,
   "a NUL in the key header: 400 or 401 (got $r->{status})");

}   # rounds

# bounded memory: the worker's heap grows to the largest requests' size
# (glibc keeps freed memory) and stays there; more of the same add
# nothing: the last two of four rounds of 20,000-message requests on
# every surface grow it by less than 1 MB, and the whole is under 64 MB.
# The second round may still grow it once: glibc serves a block of the
# first round's size from mmap, and raises its mmap threshold when that
# is freed, so the same block then comes from the heap, which keeps it
my @rss;

for my $round (1 .. 4) {
    for my $sf (@surfaces) {
        my $S = $surface{$sf};
        post($S->{path}->(), $S->{body}->('"gpt-4o"', 20_000));
    }

    push @rss, rss();
}

ok($rss[1] > 0 && $rss[3] - $rss[1] < 1024 && $rss[3] < 65536,
   "worker RSS bounded: $rss0 KB after the warm-up, then @rss KB "
   . '(< 1 MB over the last two rounds, < 64 MB)');

# the same worker all along
is(($s->worker_pids)[0], $worker, 'the worker is the same process');

my $log = $s->error_log_since($log_start);

unlike($log, qr/exited on signal|\[alert\]|\[crit\]|\[emerg\]/,
       'no crash, alert or critical error');

unlike($log, qr/sk-abuse|sk-upstream-secret|gm-upstream-secret/,
       'no key in the error log');

# the providers' side: no injected header, no CR, LF or NUL in a request
# line, the path not escaped from /gmock/, no stray key
my $up = $s->read_file('logs/upstream.log') // '';
my @lines = split /\n/, $up;

ok(@lines > 20, scalar(@lines) . ' requests reached the mocks');

my @inj = grep { (split /\|/, $_, -1)[1] ne '-' } @lines;
is(scalar @inj, 0, 'no X-Injected header reached a provider')
    or diag(join "\n", @inj[0 .. ($#inj < 4 ? $#inj : 4)]);

my @bad = grep { /\\x0[0DA]|\\x0d|\\x0a/i } @lines;
is(scalar @bad, 0, 'no CR, LF or NUL in what the providers got')
    or diag(join "\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]);

my @esc = grep { m{^POST /(?!mock/|gmock/)} } @lines;
is(scalar @esc, 0, 'every request stayed under its provider\'s base path')
    or diag(join "\n", @esc[0 .. ($#esc < 4 ? $#esc : 4)]);

my @auth = grep { my @f = split /\|/, $_, -1;
                  $f[2] ne '-' && $f[2] ne 'gm-upstream-secret'
                  || $f[3] ne '-' && $f[3] ne 'Bearer sk-upstream-secret' }
           @lines;
is(scalar @auth, 0, 'the providers got their own keys only')
    or diag(join "\n", @auth[0 .. ($#auth < 4 ? $#auth : 4)]);

$s->stop;

done_testing();
