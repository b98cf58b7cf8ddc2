# Per-model limits ("rpm:<model>=N", "tpm:<model>=N", "budget_*:<model>=",
# "<limit>:*=N" for each model apart, each regex route as one) of keys and teams, exact across 2
# workers: bursts of concurrent clients as in t/210-limits.t.  Every
# request reserves 100 tokens (100 bytes of body, max_tokens 75).

use strict;
use warnings;

use Test::More;
use t::LLMServer;

my $s = t::LLMServer->new(workers => 2);

plan skip_all => 'module not built' if !$s->module_found;

sub body {
    my ($model) = @_;
    my $b = '{"model":"' . $model . '","max_tokens":75,"messages":'
            . '[{"role":"user","content":"';
    my $tail = '"}]}';
    return $b . ('x' x (100 - length($b) - length($tail))) . $tail;
}

sub mock {
    my ($path) = @_;

    return <<"_EOC_";
        location = $path {
            default_type application/json;
            echo_sleep 0.5;
            echo '{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":25,"completion_tokens":75,"total_tokens":100}}';
        }
_EOC_
}

my $Keys = <<'_EOK_';
# a key limited on one model only, and on another by tokens
key=sk-model-CANARY-00000000000000000 name=model rpm:gpt-4o=10 tpm:cheap=500
# the same limit on each model apart, under a key-wide one
key=sk-each-CANARY-000000000000000000 name=each rpm:*=5 rpm=100
# an exact model's limit wins over "*"
key=sk-exact-CANARY-00000000000000000 name=exact rpm:*=3 rpm:cheap=7
# a team limited on one model, shared by its two keys
key=sk-blue1-CANARY-00000000000000000 name=blue1 team=blue
key=sk-blue2-CANARY-00000000000000000 name=blue2 team=blue
team=blue rpm:gpt-4o=8
# a budget per model
key=sk-budget-CANARY-0000000000000000 name=budget budget_tokens:gpt-4o=500/day
_EOK_

my $http = <<"_EOC_";
    log_format llm '\$pid \$llm_key_name \$llm_model \$status';

    llm_zone llm:1m;
    llm_provider mock type=openai upstream=127.0.0.1:__PORT__ base=/mock
                 key=none;
    llm_route gpt-4o mock;
    llm_route cheap mock;
    llm_route other mock;
    llm_route ~^mini- mock;
    llm_keys __ROOT__/keys;

    server {
        listen 127.0.0.1:__PORT__ reuseport;

        location /v1/ {
            llm_pass;
            access_log __ROOT__/logs/llm.log llm;
        }
@{[ mock('/mock/chat/completions') ]}
    }
_EOC_

$s->start($http, keys => $Keys);

sub burst {
    my ($key, @models) = @_;
    return $s->send_all([ map {
        t::LLMServer::raw(POST => '/v1/chat/completions', body($_),
                          "Authorization: Bearer $key")
    } @models ]);
}

sub count {
    my ($status, @r) = @_;
    return scalar grep { $_->{status} == $status } @r;
}

# -- a key's RPM on one model; other models free -----------------------------

{
    my @r = burst('sk-model-CANARY-00000000000000000',
                  ('gpt-4o') x 30, ('other') x 10);

    is(count(200, @r[0 .. 29]), 10, 'rpm:gpt-4o=10: 10 of 30 admitted');
    is(count(200, @r[30 .. 39]), 10, 'no limit on another model');

    my ($no) = grep { $_->{status} == 429 } @r;

    is($no->{headers}{'x-llm-limit'}, 'rpm; scope=key-model',
       '429 x-llm-limit names the limit and its scope');
    is($no->{headers}{'x-ratelimit-limit-requests'}, 10,
       '429 x-ratelimit-limit-requests of the model limit');
    like($no->{body}, qr/requests per minute of key \\"model\\" on model \\"gpt-4o\\": limit 10/,
         '429 message names key and model');

    my %pids = map { (split ' ')[0] => 1 }
               grep { (split ' ')[1] eq 'model' }
               split /\n/, $s->read_file('logs/llm.log');

    is(scalar keys %pids, 2, 'both workers took part');
}

# -- a key's TPM on a model -------------------------------------------------

{
    my @r = burst('sk-model-CANARY-00000000000000000', ('cheap') x 20);

    is(count(200, @r), 5, 'tpm:cheap=500: 5 requests of 100 tokens');

    my ($no) = grep { $_->{status} == 429 } @r;

    is($no->{headers}{'x-llm-limit'}, 'tpm; scope=key-model',
       'tpm: x-llm-limit');
    is($no->{headers}{'x-ratelimit-limit-tokens'}, 500,
       'tpm: x-ratelimit-limit-tokens');
}

# -- "*": each model its own window -----------------------------------------

{
    my @r = burst('sk-each-CANARY-000000000000000000',
                  ('gpt-4o') x 12, ('cheap') x 12, ('other') x 12);

    is(count(200, @r[0 .. 11]), 5, 'rpm:*=5 on gpt-4o');
    is(count(200, @r[12 .. 23]), 5, 'rpm:*=5 on cheap, apart');
    is(count(200, @r[24 .. 35]), 5, 'rpm:*=5 on other, apart');
}

{
    # made-up names under one regex route share its window: a client
    # cannot fill the zone with nodes of its own
    my @r = burst('sk-each-CANARY-000000000000000000',
                  map { "mini-$_" } 1 .. 12);

    is(count(200, @r), 5, 'rpm:*=5: 12 names of one regex route, 5 admitted');
}

{
    my @r = burst('sk-exact-CANARY-00000000000000000', ('cheap') x 12,
                  ('gpt-4o') x 12);

    is(count(200, @r[0 .. 11]), 7, 'rpm:cheap=7 wins over rpm:*=3');
    is(count(200, @r[12 .. 23]), 3, 'rpm:*=3 on the others');
}

# -- a team's limit on a model over its keys --------------------------------

{
    my @r = $s->send_all([ map {
        t::LLMServer::raw(POST => '/v1/chat/completions',
                          body($_ <= 20 ? 'gpt-4o' : 'cheap'),
                          'x-api-key: sk-blue' . (1 + $_ % 2)
                          . '-CANARY-00000000000000000')
    } 1 .. 30 ]);

    is(count(200, @r[0 .. 19]), 8, 'team rpm:gpt-4o=8 over two keys');
    is(count(200, @r[20 .. 29]), 10, 'the team is free on cheap');

    my ($no) = grep { $_->{status} == 429 } @r;

    is($no->{headers}{'x-llm-limit'}, 'rpm; scope=team-model',
       'team-model scope');
    like($no->{body}, qr/of team \\"blue\\" on model \\"gpt-4o\\"/,
         'the team and model are named');
}

# -- a token budget on a model: reserved, then settled ----------------------

{
    my @r = burst('sk-budget-CANARY-0000000000000000', ('gpt-4o') x 10);

    is(count(200, @r), 5, 'budget_tokens:gpt-4o=500: 5 of 10 admitted');

    my ($no) = grep { $_->{status} == 429 } @r;

    is($no->{headers}{'x-llm-limit'}, 'budget_tokens; scope=key-model',
       'budget: x-llm-limit');

    my $r = $s->request(POST => '/v1/chat/completions', body('cheap'),
                        'x-api-key: sk-budget-CANARY-0000000000000000');

    is($r->{status}, 200, 'the budget is on gpt-4o only');
}

my $log = $s->error_log_since(0);

unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert, crit or emerg');
like($log, qr/requests per minute of API key "model" on model "gpt-4o" reached/,
     'the refusal is logged with the configured model');
unlike($log, qr/sk-[a-z0-9]+-0000/, 'no key in the error log');

$s->stop;

# -- configuration errors ---------------------------------------------------

for my $bad ('rpm:gpt-4o=ten', 'rpm:=10', 'budget_tokens:gpt-4o=5/week',
             'rpm:gpt-4o=1 rpm:gpt-4o=2')
{
    $s->write_file('keys', "key=sk-bad-CANARY-0000000000000000000 name=bad $bad\n");

    my ($first) = split ' ', $bad;
    my $out = $s->test_conf($http);

    like($out, qr/invalid (?:value|parameter) "\Q@{[ $bad =~ s{=.*}{}r ]}\E[^"]*" in keys file ".*keys" line 1/,
         "nginx -t rejects \"$bad\" with file and line");
}

done_testing();
