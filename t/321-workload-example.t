# conf-examples/workload-routing.conf, run: its http{} with the port
# changed, each row of the table it implements sent once (and the names
# themselves), checked by the provider and model that answered.

use strict;
use warnings;

use Test::More;
use t::LLMServer;

my $s = t::LLMServer->new(workers => 2);

plan skip_all => 'module not built' if !$s->module_found;

open my $fh, '<', 'conf-examples/workload-routing.conf' or die $!;
my $conf = do { local $/; <$fh> };
close $fh;

my ($http) = $conf =~ /^http \{\n(.*)^\}\s*\z/ms or die 'no http{}';

$http =~ s/127\.0\.0\.1:8080/127.0.0.1:__PORT__/g;
$http =~ s{access_log\s+/dev/stdout}{access_log __ROOT__/logs/llm.log}g;
$http =~ s/^\s*client_body_temp_path\s.*\n//m;     # the harness sets it

$s->start($http);

sub ask {
    my ($body, @headers) = @_;
    my $r = $s->request(POST => '/v1/chat/completions', $body, @headers);
    return join ' ', $r->{status}, $r->{headers}{'x-llm-provider'} // '-',
                     $r->{headers}{'x-llm-model'} // '-';
}

my $plain = '{"model":"auto","messages":[{"role":"user","content":"Sort these"}]}';

is(ask($plain), '200 economy economy-mini',
   'simple automation: the lower-cost model');

like(ask($plain, 'X-LLM-Tier: reasoning'), qr/^200 premium premium-[ab]$/,
     'advanced reasoning: a high-performance model');

is(ask($plain, 'X-LLM-Tier: bulk'), '200 bulk bulk-flash',
   'bulk processing: the cheapest by llm_price');

my $long = '{"model":"auto","messages":[{"role":"user","content":"'
           . ('x' x 130000) . '"}]}';

is(ask($long), '200 longctx longctx-1m',
   'long context (~32,500 estimated tokens): the context-optimized model');

is(ask('{"model":"auto","messages":[{"role":"user","content":[{"type":'
       . '"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}'),
   '200 premium premium-b', 'an image: the vision model');

is(ask('{"model":"premium-a","messages":[{"role":"user","content":"hi"}]}'),
   '200 premium premium-a', 'a model by its own name');

# the simple-automation target's overrides reach the mock (which tells
# what it saw in its answer); not the other targets

my $r = $s->request(POST => '/v1/chat/completions', $plain);

like($r->{body}, qr/served by economy-mini \(max_tokens=512 workload=automation\)/,
   'simple automation: max_tokens=512 and header X-Workload sent');

$r = $s->request(POST => '/v1/chat/completions', $plain,
                 'X-LLM-Tier: bulk');

like($r->{body}, qr/served by bulk-flash \(max_tokens=- workload=\)/,
   'bulk: no overrides');

$r = $s->request(POST => '/v1/chat/completions',
                 '{"model":"auto","max_tokens":20,"messages":'
                 . '[{"role":"user","content":"s"}]}');

like($r->{body}, qr/served by economy-mini \(max_tokens=20 workload=automation\)/,
   "simple automation: the client's max_tokens kept");

$r = $s->request(POST => '/v1/chat/completions',
                    '{"model":"auto","stream":true,"messages":'
                    . '[{"role":"user","content":"s"}]}');

like($r->{body}, qr/served by economy-mini/, 'a stream through the rules');

unlike($s->error_log_since(0), qr/\[(alert|emerg|error)\]/, 'no error');

$s->stop;

done_testing();
