# A full llm zone degrades by the documented rule: the least recently used
# nodes that hold nothing worth keeping (totals only: no request in
# flight, windows drained, no budget spent in the current period) are
# freed to make room; when none is left, the request is refused with 503
# "zone_full" in the client's format, logged at [error].  Never a crash.
# The zone here is the smallest there is: 8 pages.

use strict;
use warnings;

use Test::More;
use POSIX qw(sysconf _SC_PAGESIZE);
use t::LLMServer;

my $s = t::LLMServer->new(workers => 2);

plan skip_all => 'module not built' if !$s->module_found;

my $page = sysconf(_SC_PAGESIZE) || 4096;
my $zone = 8 * $page / 1024;

my $Chat = '{"model":"gpt-4o","max_tokens":10,'
           . '"messages":[{"role":"user","content":"hi"}]}';

my $reply = '{"id":"c","object":"chat.completion","choices":[{"index":0,'
    . '"message":{"role":"assistant","content":"ok"},"finish_reason":'
    . '"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,'
    . '"total_tokens":6}}';

my $keys = '';

for my $i (1 .. 300) {
    $keys .= sprintf("key=sk-free-CANARY-%020d name=free-%d\n", $i, $i);
    $keys .= sprintf("key=sk-paid-CANARY-%020d name=paid-%d "
                     . "budget_tokens=1000000/day\n", $i, $i);
}

$s->start(<<"_EOC_", 'conf/keys' => $keys);
    llm_zone llm:${zone}k;
    llm_provider mock type=openai upstream=127.0.0.1:__PORT__ base=/mock
                 key=none;
    llm_route gpt-4o mock;
    llm_keys __ROOT__/conf/keys;

    server {
        listen 127.0.0.1:__PORT__;

        location /v1/ {
            llm_pass;
        }

        location = /mock/chat/completions {
            default_type application/json;
            return 200 '$reply';
        }
    }
_EOC_

sub as {
    my ($key, $path) = @_;
    return $s->request(POST => $path // '/v1/chat/completions', $Chat,
                       "x-api-key: $key");
}

# 300 keys without limits: far more nodes than the zone holds, each
# freed for the next one

my @st = map { as(sprintf('sk-free-CANARY-%020d', $_))->{status} } 1 .. 300;

is(scalar(grep { $_ == 200 } @st), 300,
   '300 keys without limits in a zone for fewer: all admitted');

my $log = $s->error_log_since(0);

unlike($log, qr/\[error\]/, 'no error: nodes of totals only were freed');

# keys with a daily budget in use: their nodes are kept, so the zone
# fills up, and then the next new key is refused

my (@ok, @refused, $mixed);

for my $i (1 .. 300) {
    my $r = as(sprintf('sk-paid-CANARY-%020d', $i));

    if ($r->{status} == 200) {
        $mixed = 1 if @refused;
        push @ok, $i;

    } else {
        push @refused, $r;
    }
}

ok(@ok > 10, scalar(@ok) . ' keys with budgets fit in a zone of '
             . "${zone}k");
ok(@refused > 0, scalar(@refused) . ' refused once it was full');
ok(!$mixed, 'once full, every new key with a budget is refused');

is_deeply([ sort { $a <=> $b } keys %{{ map { $_->{status} => 1 }
                                          @refused }} ],
          [503], 'refused with 503');

like($refused[0]{body}, qr/^\{"error":\{"message":"The gateway cannot account for more API keys now; try again later\.","type":"api_error","param":null,"code":"zone_full"\}\}$/,
     '503: OpenAI error body, code zone_full');

# Anthropic clients get their format

my $r = as('sk-paid-CANARY-00000000000000000300', '/v1/messages');

is($r->{status}, 503, 'Anthropic surface: 503');
like($r->{body}, qr/^\{"type":"error","error":\{"type":"overloaded_error","message":"The gateway cannot account for more API keys now; try again later\."\}\}$/,
     'Anthropic surface: an Anthropic error body');

is(as(sprintf('sk-paid-CANARY-%020d', $ok[0]))->{status}, 200,
   'a key that has its node keeps working');

is(as('sk-free-CANARY-00000000000000000001')->{status}, 503,
   'a key without limits is refused too when nothing can be freed');

$log = $s->error_log_since(0);

like($log, qr/\[error\] .*llm: zone "llm" is full: API key "paid-\d+" refused/,
     'the refusal is logged at [error], by key name');
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert, crit or emerg');
unlike($log, qr/exited on signal/, 'no worker crashed');
unlike($log, qr/sk-(?:free|paid)-/, 'no key in the error log');

$s->stop;

done_testing();
