using System.Text;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Protocol.Tests;

/// <summary>RFC 7628's client initial response read by the rules of Kafka's <c>OAuthBearerClientInitialResponse</c>.</summary>
public class OAuthBearerClientInitialResponseTests
{
    private static OAuthBearerClientInitialResponse Parse(string message) => OAuthBearerClientInitialResponse.Parse(Encoding.UTF8.GetBytes(message));

    [Fact]
    public void The_token_authorization_id_and_extensions_are_read()
    {
        var response = Parse("n,a=alice,\u0001auth=Bearer eyJ.a-b_c~+/9.x==\u0001traceId= 123 = x\u0001logicalCluster=lkc-1\u0001\u0001");

        Assert.Equal("eyJ.a-b_c~+/9.x==", response.TokenValue);
        Assert.Equal("alice", response.AuthorizationId);
        Assert.Equal(new Dictionary<string, string> { ["traceId"] = " 123 = x", ["logicalCluster"] = "lkc-1" }, response.Extensions);
    }

    [Fact]
    public void The_message_librdkafka_builds_without_extensions_or_authorization_id_is_read()
    {
        var response = Parse("n,,\u0001auth=Bearer token\u0001\u0001");

        Assert.Equal(("token", ""), (response.TokenValue, response.AuthorizationId));
        Assert.Empty(response.Extensions);
    }

    [Theory]
    [InlineData("auth=bearer t", "t")]
    [InlineData("auth=BEARER   t=", "t=")]
    public void The_scheme_is_case_insensitive_and_spaces_may_follow_it(string auth, string token) =>
        Assert.Equal(token, Parse($"n,,\u0001{auth}\u0001\u0001").TokenValue);

    [Theory]
    [InlineData("n,,\u0001auth=Bearer t\u0001", "Invalid OAUTHBEARER client first message")]
    [InlineData("y,,\u0001auth=Bearer t\u0001\u0001", "Invalid OAUTHBEARER client first message")]
    [InlineData("n,a=al,ice,\u0001auth=Bearer t\u0001\u0001", "Invalid OAUTHBEARER client first message")]
    [InlineData("n,,\u0001auth=Bearer t\u0001trace_id=1\u0001\u0001", "Invalid OAUTHBEARER client first message")]
    [InlineData("n,,\u0001auth=Bearer t\u0001trace=\u0002\u0001\u0001", "Invalid OAUTHBEARER client first message")]
    [InlineData("n,,\u0001\u0001", "Invalid OAUTHBEARER client first message: 'auth' not specified")]
    [InlineData("n,,\u0001traceId=1\u0001\u0001", "Invalid OAUTHBEARER client first message: 'auth' not specified")]
    [InlineData("n,,\u0001auth=Bearer\u0001\u0001", "Invalid OAUTHBEARER client first message: invalid 'auth' format")]
    [InlineData("n,,\u0001auth=Bearer t*k\u0001\u0001", "Invalid OAUTHBEARER client first message: invalid 'auth' format")]
    [InlineData("n,,\u0001auth=Basic dXNlcjpwYXNz\u0001\u0001", "Invalid scheme in OAUTHBEARER client first message: Basic")]
    [InlineData("\u0001", "Invalid OAUTHBEARER client first message")]
    public void A_message_off_the_grammar_is_refused_with_Kafka_s_message(string message, string error) =>
        Assert.Equal(error, Assert.Throws<FormatException>(() => Parse(message)).Message);

    [Fact]
    public void An_escaped_comma_and_equals_sign_may_appear_in_the_authorization_id() =>
        Assert.Equal("a=2Cb=3D", Parse("n,a=a=2Cb=3D,\u0001auth=Bearer t\u0001\u0001").AuthorizationId);
}
