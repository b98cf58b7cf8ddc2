# Every file in conf-examples/ passes "nginx -t" with the built module.
# Real provider hosts are swapped for loopback (these machines have no DNS
# for them, and nginx resolves upstream hosts when it loads), key files and
# log paths for temporary ones.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{LLM_MODULE} || 'build/ngx_http_llm_module.so';
my $echo = '/usr/lib/nginx/modules/ngx_http_echo_module.so';

plan skip_all => "module not built ($module)" unless -f $module;

$module = File::Spec->rel2abs($module) if $module !~ m{^/};

my @confs = sort glob 'conf-examples/*.conf';

plan tests => 2 * @confs + 2;

# the JSON access log a log pipeline ingests: every figure of a request
{
    open my $fh, '<', 'conf-examples/virtual-keys.conf' or die $!;
    local $/;
    my $text = <$fh>;
    close $fh;

    my ($fmt) = $text =~ /log_format\s+llm_json\s+(escape=json\s[^;]+);/s;

    ok(defined $fmt, 'virtual-keys.conf: a log_format with escape=json');

    my @missing = grep { ($fmt // '') !~ /\$$_\b/ }
                  qw(llm_key_name llm_key_team llm_model llm_provider
                     llm_prompt_tokens llm_completion_tokens llm_cached_tokens
                     llm_cost llm_usage llm_ttfb llm_ttft llm_attempts status);

    is("@missing", '', 'it has key, team, tokens, cost, usage, TTFT, '
       . 'attempts');
}

for my $conf (@confs) {
    my $dir = tempdir(CLEANUP => 1);

    make_path("$dir/conf", "$dir/logs", "$dir/keys");

    open my $k, '>', "$dir/keys/key" or die $!;
    print $k "sk-example-key\n";
    close $k;

    open my $in, '<', $conf or die "$conf: $!";
    local $/;
    my $text = <$in>;
    close $in;

    $text =~ s{load_module\s+\S*ngx_http_llm_module\.so;}
              {load_module $module;}g;
    $text =~ s{load_module\s+\S*ngx_http_echo_module\.so;}
              {load_module $echo;}g;

    if ($text !~ /load_module\s+\Q$module\E/) {
        $text = "load_module $module;\n$text";
    }

    # upstream servers: names to loopback, keeping the port
    $text =~ s{(\bserver\s+)(?!127\.0\.0\.1|unix:)[A-Za-z][\w.-]*(:\d+)}
              {${1}127.0.0.1$2}g;
    $text =~ s{(\bserver\s+)10\.\d+\.\d+\.\d+(:\d+)}{${1}127.0.0.1$2}g;

    $text =~ s{file:/\S+?(?=[\s;])}{file:$dir/keys/key}g;

    # llm_keys: the example keys file that comes with the example
    (my $keys = File::Spec->rel2abs($conf)) =~ s/\.conf$/.keys/;
    $text =~ s{(\bllm_keys\s+)[^;\s]+}{$1$keys}g;
    $text =~ s{/var/log/nginx/}{$dir/logs/}g;

    open my $out, '>', "$dir/conf/nginx.conf" or die $!;
    print $out $text;
    close $out;

    local $ENV{OPENAI_API_KEY} = 'sk-example';
    local $ENV{GROQ_API_KEY} = 'gsk-example';
    local $ENV{DEEPSEEK_API_KEY} = 'sk-example';

    my $cmd = "$nginx -t -q -p $dir/ -c conf/nginx.conf "
              . "-g 'pid $dir/logs/nginx.pid; error_log stderr;' 2>&1";

    my $log = `$cmd`;
    my $rc = $? >> 8;

    is($rc, 0, "$conf: nginx -t") or diag($log);
    unlike($log, qr/\[(emerg|alert|crit)\]/, "$conf: no emerg/alert")
        or diag($log);
}
