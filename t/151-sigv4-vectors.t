# SigV4 (src/ngx_http_llm_sigv4.c) outside nginx, t/unit/sigv4_vectors.c
# built by "make unit": AWS's published test suite (t/unit/sigv4, data
# only), the canonical query string, and a Bedrock-shaped POST (a JSON
# body, its hash, a session token) signed by the function the Bedrock
# adapter calls, checked against this file's own SigV4 (Digest::SHA).

use strict;
use warnings;

use Test::More;
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha256_hex);

my $bin = ($ENV{LLM_UNIT_DIR} || 'build/unit') . '/sigv4_vectors';

plan skip_all => "$bin is not built (make unit)" unless -x $bin;

opendir my $dh, 't/unit/sigv4' or die "t/unit/sigv4: $!";
my @cases = sort grep { -d "t/unit/sigv4/$_" && !/^\./ } readdir $dh;
closedir $dh;

ok(@cases >= 20, scalar(@cases) . " AWS test-suite cases");

my $out = `$bin @{[ map { "t/unit/sigv4/$_" } @cases ]} 2>&1`;
is($? >> 8, 0, 'every case signs as AWS does') or diag($out);

for my $c (@cases) {
    like($out, qr/^ok \Q$c\E$/m, "suite: $c");
}

like($out, qr/^\Q@{[ scalar @cases ]}\E cases, 0 failed$/m, 'the count');

# a vector changed by one byte must fail: the harness compares

my $tmp = 't/servroot-sigv4';
system("rm -rf $tmp && mkdir -p $tmp && cp -r t/unit/sigv4/get-vanilla $tmp/");
open my $fh, '>', "$tmp/get-vanilla/header-signature.txt" or die;
print $fh '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf32';
close $fh;
$out = `$bin $tmp/get-vanilla 2>&1`;
isnt($? >> 8, 0, 'a wrong signature in a vector fails');
like($out, qr/^not ok get-vanilla: signature/m, '... and says which part');
system("rm -rf $tmp");

# the canonical query string (the older suite's get-vanilla-query-order-key:
# one name twice, sorted by value)

my @queries = (
    ['Param1=value2&Param1=value1', 'Param1=value1&Param1=value2'],
    ['Param2=value2&Param1=value1', 'Param1=value1&Param2=value2'],
    ['Param-3=Value3&Param=Value2&%E1%88%B4=Value1',
     '%E1%88%B4=Value1&Param=Value2&Param-3=Value3'],
    ["\xe1\x88\xb4=bar", '%E1%88%B4=bar'],
    ['a=b c&b', 'a=b%20c&b='],
    ['x=%2f%2F&&y=+', 'x=%2F%2F&y=%2B'],
    ['', ''],
);

for my $q (@queries) {
    my $got = `$bin query '$q->[0]'`;
    chomp $got;
    is($got, $q->[1], "canonical query of '$q->[0]'");
}

# a Bedrock-shaped POST: this file signs it too, from the spec

my $key = 'AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY:'
          . 'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZ';
my $host = 'bedrock-runtime.us-west-2.amazonaws.com';
my $path = '/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream';
my $date = '20150830T123600Z';
my $body = '{"messages":[{"role":"user","content":[{"text":"Hi \u00e9"}]}],'
           . '"inferenceConfig":{"maxTokens":64}}';

my ($akid, $secret, $token) = split /:/, $key, 3;

(my $cpath = $path) =~ s/%/%25/g;
my $creq = "POST\n$cpath\n\n"
           . "content-type:application/json\n"
           . "host:$host\n"
           . "x-amz-date:$date\n"
           . "x-amz-security-token:$token\n\n"
           . "content-type;host;x-amz-date;x-amz-security-token\n"
           . sha256_hex($body);
my $scope = substr($date, 0, 8) . "/us-west-2/bedrock/aws4_request";
my $sts = "AWS4-HMAC-SHA256\n$date\n$scope\n" . sha256_hex($creq);
my $k = hmac_sha256(substr($date, 0, 8), "AWS4$secret");
$k = hmac_sha256('us-west-2', $k);
$k = hmac_sha256('bedrock', $k);
$k = hmac_sha256('aws4_request', $k);
my $auth = "AWS4-HMAC-SHA256 Credential=$akid/$scope, SignedHeaders="
           . "content-type;host;x-amz-date;x-amz-security-token, Signature="
           . hmac_sha256_hex($sts, $k);

$out = `$bin bedrock '$key' '$host' us-west-2 '$path' $date '$body' 2>&1`;
is($? >> 8, 0, 'bedrock: signs');

my ($g_creq, $g_sts, $g_auth, $g_token) = split /\n--\n/, $out;
chomp $g_token if defined $g_token;

is($g_creq, $creq, 'bedrock: canonical request (path encoded twice, '
                   . 'body hash, token signed)');
is($g_sts, $sts, 'bedrock: string to sign');
is($g_auth, $auth, 'bedrock: Authorization');
is($g_token, $token, 'bedrock: the session token to send');

# without a session token: three signed headers
($akid, $secret) = split /:/, $key;
$out = `$bin bedrock '$akid:$secret' '$host' us-west-2 '$path' $date '$body'`;
like($out, qr/SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}\n--\n\n?$/,
     'bedrock without a token: three signed headers, no token');

done_testing();
