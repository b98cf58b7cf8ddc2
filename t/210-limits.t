# Rate limits and budgets in the llm zone, exact across workers: an nginx
# with 2 workers (reuseport spreads the connections over both) started
# here, and bursts of concurrent clients, all connected first and their
# requests written back to back.  Every request below costs exactly 100
# tokens: a body of 100 bytes (25 prompt tokens estimated) with
# max_tokens 75, and a mock provider that reports 25 + 75.

use strict;
use warnings;

use Test::More;
use t::LLMServer;

my $s = t::LLMServer->new(workers => 2);

plan skip_all => 'module not built' if !$s->module_found;

# a chat request of exactly 100 bytes
sub body {
    my ($model) = @_;
    my $b = '{"model":"' . $model . '","max_tokens":75,"messages":'
            . '[{"role":"user","content":"';
    my $tail = '"}]}';
    return $b . ('x' x (100 - length($b) - length($tail))) . $tail;
}

sub mock {
    my ($path, $prompt, $completion, $sleep) = @_;

    return <<"_EOC_";
        location = $path {
            default_type application/json;
            echo_sleep $sleep;
            echo '{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":$prompt,"completion_tokens":$completion,"total_tokens":@{[ $prompt + $completion ]}}}';
        }
_EOC_
}

my $keys = <<'_EOC_';
    llm_key key=sk-rpm-CANARY-000000000000000000 name=rpm rpm=30;
    llm_key key=sk-tpm-CANARY-000000000000000000 name=tpm tpm=1200;
    llm_key key=sk-budget-CANARY-0000000000000000 name=budget budget_tokens=5000/day;
    llm_key key=sk-waves-CANARY-00000000000000000 name=waves budget_tokens=5000;
    llm_key key=sk-cost-CANARY-000000000000000000 name=cost budget_cost=0.01/month;
    llm_key key=sk-team1-CANARY-00000000000000000 name=team1 team=shared;
    llm_key key=sk-team2-CANARY-00000000000000000 name=team2 team=shared;
    llm_key team=shared rpm=20;
    llm_key key=sk-free-CANARY-000000000000000000 name=free;
_EOC_

my $http = <<"_EOC_";
    log_format llm '\$pid \$llm_key_name \$status \$llm_total_tokens \$llm_cost';

    llm_zone llm:1m;
    llm_provider mock type=openai upstream=127.0.0.1:__PORT__ base=/mock
                 key=none;
    llm_provider cheap type=openai upstream=127.0.0.1:__PORT__ base=/cheap
                 key=none;
    llm_route gpt-4o mock;
    llm_route cheap cheap;
    llm_price gpt-4o input=2.50 output=10;
$keys
    server {
        listen 127.0.0.1:__PORT__ reuseport;

        location /v1/ {
            llm_pass;
            access_log __ROOT__/logs/llm.log llm;
        }
@{[ mock('/mock/chat/completions', 25, 75, 0.5) ]}
@{[ mock('/cheap/chat/completions', 25, 25, 0.5) ]}
    }
_EOC_

$s->start($http);

my $Chat = body('gpt-4o');
my $Cheap = body('cheap');

is(length $Chat, 100, 'the request body is 100 bytes');

sub burst {
    my ($n, $key, $body) = @_;
    return $s->send_all([ map {
        t::LLMServer::raw(POST => '/v1/chat/completions', $body // $Chat,
                          "Authorization: Bearer $key")
    } 1 .. $n ]);
}

sub count {
    my ($status, @r) = @_;
    return scalar grep { $_->{status} == $status } @r;
}

# the access log lines of a key, once there are $n of them (a client may
# see the end of its answer before the line is written)
sub log_lines {
    my ($name, $n) = @_;
    my @l;

    for (1 .. 100) {
        @l = grep { (split ' ')[1] eq $name }
             split /\n/, $s->read_file('logs/llm.log');
        last if !defined $n || @l >= $n;
        select undef, undef, undef, 0.05;
    }

    return @l;
}

# -- RPM ---------------------------------------------------------------------

{
    my @r = burst(100, 'sk-rpm-CANARY-000000000000000000');

    is(count(200, @r), 30, 'rpm=30: 100 concurrent requests, 30 admitted');
    is(count(429, @r), 70, 'rpm=30: 70 refused with 429');

    my ($no) = grep { $_->{status} == 429 } @r;

    like($no->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/,
         '429: Retry-After in seconds');
    is($no->{headers}{'x-ratelimit-limit-requests'}, 30,
       '429: x-ratelimit-limit-requests');
    is($no->{headers}{'x-ratelimit-remaining-requests'}, 0,
       '429: x-ratelimit-remaining-requests');
    like($no->{headers}{'x-ratelimit-reset-requests'} // '',
         qr/^(?:\d+m)?\d+s$/, '429: x-ratelimit-reset-requests');
    like($no->{body}, qr/"type":"requests".*"code":"rate_limit_exceeded"/,
         '429: OpenAI error body');

    my ($yes) = grep { $_->{status} == 200 } @r;

    is($yes->{headers}{'x-ratelimit-limit-requests'}, 30,
       '200: x-ratelimit-limit-requests too');

    my %pids = map { (split ' ')[0] => 1 } log_lines('rpm', 100);

    is(scalar keys %pids, 2, 'both workers took part');
}

# -- TPM ---------------------------------------------------------------------

{
    my @r = burst(60, 'sk-tpm-CANARY-000000000000000000');

    is(count(200, @r), 12, 'tpm=1200: 60 concurrent 100-token requests, '
                           . '12 admitted');

    my ($no) = grep { $_->{status} == 429 } @r;

    is($no->{headers}{'x-ratelimit-limit-tokens'}, 1200,
       '429: x-ratelimit-limit-tokens');
    like($no->{body}, qr/"type":"tokens"/, '429: type tokens');
}

# -- budgets: reserved at admission, settled with the usage ------------------

{
    my @r = burst(200, 'sk-budget-CANARY-0000000000000000');

    is(count(200, @r), 50, 'budget_tokens=5000: 200 concurrent requests, '
                           . '50 admitted, no overshoot');

    my ($no) = grep { $_->{status} == 429 } @r;

    like($no->{body}, qr/"code":"insufficient_quota"/,
         'budget: insufficient_quota');
    like($no->{headers}{'retry-after'} // '', qr/^\d+$/,
         'a daily budget: Retry-After until midnight UTC');

    my $t = 0;
    $t += (split ' ')[3] for grep { (split ' ')[2] == 200 }
                             log_lines('budget', 200);

    is($t, 5000, 'settled: 5000 tokens');

    my $r = $s->request(POST => '/v1/chat/completions', $Chat,
                        'x-api-key: sk-budget-CANARY-0000000000000000');

    is($r->{status}, 429, 'the spent budget refuses the next request');
}

# a provider that uses less than reserved gives the rest back: waves of
# requests until the budget is spent; what was settled never exceeds it

{
    my ($ok, $waves, $sent) = (0, 0, 0);

    while ($waves++ < 10) {
        my @r = burst(100, 'sk-waves-CANARY-00000000000000000', $Cheap);
        my $n = count(200, @r);
        $sent += 100;
        last if $n == 0;
        $ok += $n;

        log_lines('waves', $sent);              # all settled
    }

    my $t = 0;
    $t += (split ' ')[3] for grep { (split ' ')[2] == 200 }
                             log_lines('waves', $sent);

    # each reserves 100 and uses 50: 50, 25, 12, 6, 3, 1, 1, ... admitted
    cmp_ok($t, '<=', 5000, "waves: $ok admitted, $t tokens settled, "
                           . 'within the budget of 5000');
    cmp_ok($t, '>=', 4900, 'waves: the budget is used up to the last '
                           . 'request that fits');
}

# -- cost budget ---------------------------------------------------------------

{
    # 25 prompt tokens at $2.50/1M + 75 at $10/1M = $0.0008125 a request

    my @r = burst(40, 'sk-cost-CANARY-000000000000000000');

    is(count(200, @r), 12, 'budget_cost=0.01: 12 requests of $0.0008125');

    my @costs = map { (split ' ')[4] } grep { (split ' ')[2] == 200 }
                log_lines('cost', 40);

    is($costs[0], '0.0008125', '$llm_cost');

    my ($no) = grep { $_->{status} == 429 } @r;

    like($no->{body}, qr/The cost budget of key \\"cost\\" \(\$0\.01 a month\)/,
         'the cost budget in the message');
}

# -- a team's limit, shared by its keys across workers -----------------------

{
    my @reqs = map {
        t::LLMServer::raw(POST => '/v1/chat/completions', $Chat,
                          'x-api-key: sk-team' . (1 + $_ % 2)
                          . '-CANARY-00000000000000000')
    } 1 .. 60;

    my @r = $s->send_all(\@reqs);

    is(count(200, @r), 20, 'team rpm=20 over two keys: 20 admitted');

    my ($no) = grep { $_->{status} == 429 } @r;

    like($no->{body}, qr/requests per minute of team \\"shared\\"/,
         'the team is named');
}

# -- no limits: no headers ---------------------------------------------------

{
    my $r = $s->request(POST => '/v1/chat/completions', $Chat,
                        'x-api-key: sk-free-CANARY-000000000000000000');

    is($r->{status}, 200, 'a key without limits');
    ok(!exists $r->{headers}{'x-ratelimit-limit-requests'},
       'no x-ratelimit headers without limits');
}

my $log = $s->error_log_since(0);

unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert, crit or emerg');
unlike($log, qr/exited on signal/, 'no worker crashed');
unlike($log, qr/sk-(?:rpm|tpm|budget|waves|cost|team|free)-/,
       'no key in the error log');
unlike($s->read_file('logs/access.log') . $s->read_file('logs/llm.log'),
       qr/sk-(?:rpm|tpm|budget|waves|cost|team|free)-/,
       'no key in the access logs');

$s->stop;

done_testing();
