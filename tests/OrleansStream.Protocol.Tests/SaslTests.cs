using System.Text;
using OrleansStream.Protocol.Messages;
using OrleansStream.Protocol.Sasl;
using static OrleansStream.Protocol.Tests.TransactionMessageTests;

namespace OrleansStream.Protocol.Tests;

/// <summary>The SASL messages byte for byte, and the PLAIN and SCRAM exchanges against RFC 7677's test vector.</summary>
public class SaslTests
{
    // RFC 7677 section 3: user "user", password "pencil", its nonces and salt.
    private const string ClientNonce = "rOprNGfwEbeRWgbNEkqO";
    private const string ServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    private const string Salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
    private const string ClientFirst = "n,,n=user,r=" + ClientNonce;
    private const string ServerFirst = "r=" + ClientNonce + ServerNonce + ",s=" + Salt + ",i=4096";
    private const string ClientFinalWithoutProof = "c=biws,r=" + ClientNonce + ServerNonce;

    /// <summary>The proof the client sends and the server's signature: RFC 7677's for SHA-256; for SHA-512 (no RFC vector) Python's hashlib/hmac computed them.</summary>
    public static TheoryData<string, string, string> Vectors => new()
    {
        { "SCRAM-SHA-256", "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" },
        {
            "SCRAM-SHA-512", "gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
            "ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw=="
        },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Scram_exchange_answers_the_test_vector_and_signs_the_server_final_message(string name, string proof, string serverSignature)
    {
        var server = new ScramSaslServer(ScramMechanism.ForName(name)!, Store(name, "pencil"), ServerNonce);

        var first = server.Evaluate(Encoding.UTF8.GetBytes(ClientFirst));
        var final = server.Evaluate(Encoding.UTF8.GetBytes($"{ClientFinalWithoutProof},p={proof}"));

        Assert.Equal((SaslOutcome.Continue, ServerFirst), (first.Outcome, Encoding.UTF8.GetString(first.Challenge)));
        Assert.Equal((SaslOutcome.Complete, "v=" + serverSignature), (final.Outcome, Encoding.UTF8.GetString(final.Challenge)));
        Assert.Equal("user", server.User);
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Scram_exchange_with_a_wrong_password_fails_at_the_proof(string name, string proof, string serverSignature)
    {
        _ = serverSignature;
        var server = new ScramSaslServer(ScramMechanism.ForName(name)!, Store(name, "not-pencil"), ServerNonce);

        Assert.Equal(SaslOutcome.Continue, server.Evaluate(Encoding.UTF8.GetBytes(ClientFirst)).Outcome);
        var final = server.Evaluate(Encoding.UTF8.GetBytes($"{ClientFinalWithoutProof},p={proof}"));

        Assert.Equal(SaslOutcome.Failed, final.Outcome);
        Assert.Equal($"Authentication failed during authentication due to invalid credentials with SASL mechanism {name}", final.Error);
        Assert.Equal(SaslOutcome.Failed, server.Evaluate(Encoding.UTF8.GetBytes($"{ClientFinalWithoutProof},p={proof}")).Outcome);
    }

    [Fact]
    public void An_unknown_user_gets_a_stable_decoy_salt_and_fails_only_at_the_proof()
    {
        var store = Store("SCRAM-SHA-256", "pencil");
        var first = new ScramSaslServer(ScramMechanism.Sha256, store, ServerNonce).Evaluate("n,,n=nobody,r=abc"u8);
        var again = new ScramSaslServer(ScramMechanism.Sha256, store, ServerNonce).Evaluate("n,,n=nobody,r=abc"u8);
        var other = new ScramSaslServer(ScramMechanism.Sha256, store, ServerNonce).Evaluate("n,,n=somebody,r=abc"u8);

        Assert.Equal(SaslOutcome.Continue, first.Outcome);
        Assert.Equal(Encoding.UTF8.GetString(first.Challenge), Encoding.UTF8.GetString(again.Challenge));
        Assert.NotEqual(Encoding.UTF8.GetString(first.Challenge), Encoding.UTF8.GetString(other.Challenge));
    }

    [Theory]
    [InlineData("p=tls-unique,,n=user,r=abc", "channel binding is not supported")]
    [InlineData("n,a=admin,n=user,r=abc", "authorization id that is different from username")]
    [InlineData("n,,n=user,r=abc,tokenauth=true", "delegation tokens are not supported")]
    [InlineData("n,,r=abc", "expected n=user,r=nonce")]
    [InlineData("n,,n=us=er,r=abc", "user name")]
    public void Scram_client_first_messages_Kafka_refuses_fail(string message, string error)
    {
        var step = new ScramSaslServer(ScramMechanism.Sha256, Store("SCRAM-SHA-256", "pencil")).Evaluate(Encoding.UTF8.GetBytes(message));

        Assert.Equal(SaslOutcome.Failed, step.Outcome);
        Assert.Contains(error, step.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Scram_user_names_decode_escaped_commas_and_equals_signs()
    {
        var server = new ScramSaslServer(ScramMechanism.Sha256, Store("SCRAM-SHA-256", "pencil", "a,b=c"), ServerNonce);

        server.Evaluate("n,,n=a=2Cb=3Dc,r=abc"u8);

        Assert.Equal("a,b=c", server.User);
    }

    [Fact]
    public void Scram_final_nonce_may_repeat_the_client_nonce_before_the_full_nonce_as_librdkafka_2_0_sends_it()
    {
        var server = new ScramSaslServer(ScramMechanism.Sha256, Store("SCRAM-SHA-256", "pencil"), ServerNonce);
        server.Evaluate(Encoding.UTF8.GetBytes(ClientFirst));
        var withoutProof = $"c=biws,r={ClientNonce}{ClientNonce}{ServerNonce}";
        var authMessage = Encoding.UTF8.GetBytes($"n=user,r={ClientNonce},{ServerFirst},{withoutProof}");
        var salted = System.Security.Cryptography.Rfc2898DeriveBytes.Pbkdf2("pencil"u8, Convert.FromBase64String(Salt), 4096, System.Security.Cryptography.HashAlgorithmName.SHA256, 32);
        var clientKey = System.Security.Cryptography.HMACSHA256.HashData(salted, "Client Key"u8);
        var signature = System.Security.Cryptography.HMACSHA256.HashData(System.Security.Cryptography.SHA256.HashData(clientKey), authMessage);
        for (var i = 0; i < clientKey.Length; i++) clientKey[i] ^= signature[i];

        var final = server.Evaluate(Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(clientKey)}"));

        Assert.Equal(SaslOutcome.Complete, final.Outcome);
    }

    [Fact]
    public void Scram_final_message_with_another_nonce_or_binding_fails()
    {
        var nonce = new ScramSaslServer(ScramMechanism.Sha256, Store("SCRAM-SHA-256", "pencil"), ServerNonce);
        nonce.Evaluate(Encoding.UTF8.GetBytes(ClientFirst));
        var binding = new ScramSaslServer(ScramMechanism.Sha256, Store("SCRAM-SHA-256", "pencil"), ServerNonce);
        binding.Evaluate(Encoding.UTF8.GetBytes(ClientFirst));

        var wrongNonce = nonce.Evaluate(Encoding.UTF8.GetBytes($"c=biws,r={ClientNonce}x,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
        var wrongBinding = binding.Evaluate(Encoding.UTF8.GetBytes($"c=eSws,r={ClientNonce}{ServerNonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));

        Assert.Contains("nonce does not match", wrongNonce.Error, StringComparison.Ordinal);
        Assert.Contains("channel binding does not match", wrongBinding.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\0user\0pencil", SaslOutcome.Complete, null)]
    [InlineData("user\0user\0pencil", SaslOutcome.Complete, null)]
    [InlineData("\0user\0pencil!", SaslOutcome.Failed, PlainSaslServer.InvalidCredentials)]
    [InlineData("\0nobody\0pencil", SaslOutcome.Failed, PlainSaslServer.InvalidCredentials)]
    [InlineData("admin\0user\0pencil", SaslOutcome.Failed, "Authentication failed: Client requested an authorization id that is different from username")]
    [InlineData("\0\0pencil", SaslOutcome.Failed, "Authentication failed: username not specified")]
    [InlineData("user\0pencil", SaslOutcome.Failed, "Invalid SASL/PLAIN response: expected 3 tokens")]
    public void Plain_checks_the_password_against_the_stored_scram_credential(string message, SaslOutcome outcome, string? error)
    {
        var server = new PlainSaslServer(Store("SCRAM-SHA-512", "pencil"));

        var step = server.Evaluate(Encoding.UTF8.GetBytes(message));

        Assert.Equal((outcome, error), (step.Outcome, step.Error));
    }

    [Fact]
    public void Credentials_are_written_and_read_in_Kafka_s_form_and_derive_RFC_7677_s_keys()
    {
        var credential = ScramMechanism.Sha256.CreateCredential("pencil"u8, Convert.FromBase64String(Salt), 4096);

        var text = credential.Format();
        var read = ScramCredential.Parse(text, ScramMechanism.Sha256);

        Assert.Equal($"salt={Salt},stored_key=WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,server_key=wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=,iterations=4096", text);
        Assert.Equal(text, read.Format());
        Assert.True(ScramMechanism.Sha256.Matches(read, "pencil"u8));
        Assert.False(ScramMechanism.Sha256.Matches(read, "pencil2"u8));
    }

    [Theory]
    [InlineData("salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=4096", "keys are 32 bytes")]
    [InlineData("salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,server_key=wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=,iterations=100", "4096 to 16384 iterations")]
    [InlineData("salt=W22ZaJ0SNY7soEsUEjb6gQ==,iterations=4096", "needs salt, stored_key, server_key and iterations")]
    [InlineData("password=pencil", "not a SCRAM credential field")]
    public void Bad_credentials_are_refused_saying_why(string text, string error)
    {
        var e = Assert.Throws<FormatException>(() => ScramCredential.Parse(text, ScramMechanism.Sha256));

        Assert.Contains(error, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaslHandshake_v1_messages_have_Kafka_s_layout()
    {
        var request = Hex.Parse("000d 534352414d2d5348412d323536");
        var response = Hex.Parse("0000 00000002 0005 504c41494e 000d 534352414d2d5348412d353132");

        Assert.Equal(new SaslHandshakeRequest("SCRAM-SHA-256"), Read(request, SaslHandshakeRequest.Read, 1));
        AssertWrites(response, new SaslHandshakeResponse(ErrorCode.None, ["PLAIN", "SCRAM-SHA-512"]).Write, 1);
    }

    [Theory]
    [InlineData(0, "00000003 616263", "0022 0004 6f6f7073 00000001 76")]
    [InlineData(1, "00000003 616263", "0022 0004 6f6f7073 00000001 76 0000000000000000")]
    [InlineData(2, "04 616263 00", "0022 05 6f6f7073 02 76 0000000000000000 00")]
    public void SaslAuthenticate_messages_have_Kafka_s_layout(short version, string requestHex, string responseHex)
    {
        var read = Read(Hex.Parse(requestHex), SaslAuthenticateRequest.Read, version);
        var response = new SaslAuthenticateResponse(ErrorCode.IllegalSaslState, "oops", "v"u8.ToArray());

        Assert.Equal("abc"u8.ToArray(), read.AuthBytes);
        AssertWrites(Hex.Parse(requestHex), read.Write, version);
        AssertWrites(Hex.Parse(responseHex), response.Write, version);
        var readBack = Read(Hex.Parse(responseHex), SaslAuthenticateResponse.Read, version);
        Assert.Equal((response.Error, response.ErrorMessage, "v"), (readBack.Error, readBack.ErrorMessage, Encoding.UTF8.GetString(readBack.AuthBytes)));
    }

    /// <summary>
    /// Byte-mutated copies of a genuine exchange (bytes flipped, cut, inserted, set to a separator or NUL): no SASL
    /// server throws on any of them (a throw would close the connection without Kafka's answer), every failure says
    /// why, and none authenticates unless what the server verified is still what the client signed.
    /// </summary>
    [Fact]
    public void Mutated_exchanges_never_throw_and_never_authenticate_what_the_client_did_not_sign()
    {
        const string name = "SCRAM-SHA-256";
        const string proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        var store = Store(name, "pencil");
        var first = Encoding.UTF8.GetBytes(ClientFirst);
        var final = Encoding.UTF8.GetBytes($"{ClientFinalWithoutProof},p={proof}");
        var plain = Encoding.UTF8.GetBytes("\0user\0pencil");
        var random = new Random(20261206);
        var completed = 0;
        for (var i = 0; i < 4000; i++)
        {
            var mutateFirst = random.Next(3) == 0;
            var a = mutateFirst ? Mutate(first, random) : first;
            var b = mutateFirst ? final : Mutate(final, random);
            var scram = new ScramSaslServer(ScramMechanism.ForName(name)!, store, ServerNonce);
            var one = scram.Evaluate(a);
            Assert.True(one.Outcome is SaslOutcome.Continue || one.Error is { Length: > 0 }, Encoding.UTF8.GetString(a));
            if (one.Outcome is SaslOutcome.Continue)
            {
                var two = scram.Evaluate(b);
                Assert.True(two.Outcome is SaslOutcome.Complete || two.Error is { Length: > 0 }, Encoding.UTF8.GetString(b));
                if (two.Outcome is SaslOutcome.Complete)
                {
                    completed++;
                    // Only a change the proof does not cover may pass: none to the first message or to the final
                    // message's signed part, and a proof that decodes to the same bytes.
                    Assert.Equal(ClientFirst, Encoding.UTF8.GetString(a));
                    var text = Encoding.UTF8.GetString(b);
                    Assert.StartsWith(ClientFinalWithoutProof + ",p=", text, StringComparison.Ordinal);
                    Assert.Equal(Convert.FromBase64String(proof), Convert.FromBase64String(text[(ClientFinalWithoutProof.Length + 3)..]));
                }
            }
            var p = new PlainSaslServer(store).Evaluate(Mutate(plain, random));
            Assert.True(p.Outcome is SaslOutcome.Complete || p.Error is { Length: > 0 });
        }
        Assert.True(completed < 400, $"{completed} of 4000 mutated exchanges authenticated");
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0: bytes[at] = (byte)random.Next(256); break;
                case 1 when bytes.Count > 0: bytes.RemoveRange(at, random.Next(1, bytes.Count - at + 1)); break;
                case 2: bytes.Insert(at, (byte)random.Next(256)); break;
                case 3 when bytes.Count > 0: bytes[at] = (byte)",=\0 "[random.Next(4)]; break;
                default: bytes.InsertRange(at, bytes.GetRange(0, Math.Min(bytes.Count, random.Next(1, 8)))); break;
            }
        }
        return [.. bytes];
    }

    private static SingleUser Store(string mechanism, string password, string user = "user") =>
        new(user, ScramMechanism.ForName(mechanism)!, ScramMechanism.ForName(mechanism)!.CreateCredential(Encoding.UTF8.GetBytes(password), Convert.FromBase64String(Salt), 4096));

    private sealed record SingleUser(string User, ScramMechanism Mechanism, ScramCredential Credential) : IScramCredentialStore
    {
        public ScramCredential? Find(string user, ScramMechanism mechanism) => user == User && mechanism == Mechanism ? Credential : null;
    }
}
