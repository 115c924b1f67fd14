using System.Security.Cryptography;
using System.Text;

namespace OrleansStream.Protocol.Sasl;

/// <summary>
/// The server side of one SCRAM exchange (RFC 5802 section 5, Kafka's <c>ScramSaslServer</c>): client-first →
/// server-first (nonce, salt, iterations) → client-final (proof) → server-final (server signature). Channel binding
/// is not offered (a client asking for it is refused; <c>y</c> is accepted), nor are Kafka's delegation tokens
/// (<c>tokenauth</c>). An unknown user gets a decoy salt and fails at the proof like a wrong password.
/// </summary>
public sealed class ScramSaslServer : ISaslServer
{
    private readonly ScramMechanism _mechanism;
    private readonly IScramCredentialStore _credentials;
    private readonly string _serverNonce;
    private State _state;
    private ScramCredential? _credential;
    private bool _known;
    private string _gs2Header = "";
    private string _clientFirstBare = "";
    private string _serverFirst = "";
    private string _nonce = "";

    private enum State { ClientFirst, ClientFinal, Done }

    /// <param name="serverNonce">The server's part of the nonce; random unless a test gives one.</param>
    public ScramSaslServer(ScramMechanism mechanism, IScramCredentialStore credentials, string? serverNonce = null)
    {
        ArgumentNullException.ThrowIfNull(mechanism);
        ArgumentNullException.ThrowIfNull(credentials);
        _mechanism = mechanism;
        _credentials = credentials;
        _serverNonce = serverNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
    }

    public string Mechanism => _mechanism.Name;

    public string? User { get; private set; }

    private string InvalidCredentials => $"Authentication failed during authentication due to invalid credentials with SASL mechanism {_mechanism.Name}";

    public SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        var state = _state;
        _state = State.Done;
        string message;
        try
        {
            message = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(response);
        }
        catch (DecoderFallbackException)
        {
            return SaslStep.Fail($"Invalid {_mechanism.Name} message: not UTF-8");
        }
        return state switch
        {
            State.ClientFirst => ClientFirst(message),
            State.ClientFinal => ClientFinal(message),
            _ => SaslStep.Fail($"Authentication failed: the {_mechanism.Name} exchange is over"),
        };
    }

    // gs2-cbind-flag "," [ authzid ] "," client-first-message-bare, where the bare part is n=user,r=nonce[,ext...].
    private SaslStep ClientFirst(string message)
    {
        var first = message.IndexOf(',', StringComparison.Ordinal);
        var second = first < 0 ? -1 : message.IndexOf(',', first + 1);
        if (second < 0) return SaslStep.Fail($"Invalid {_mechanism.Name} client first message");
        var flag = message[..first];
        if (flag.StartsWith("p=", StringComparison.Ordinal)) return SaslStep.Fail("Authentication failed: channel binding is not supported");
        if (flag is not ("n" or "y")) return SaslStep.Fail($"Invalid {_mechanism.Name} client first message: gs2 flag '{flag}'");
        var authzidPart = message[(first + 1)..second];
        if (authzidPart.Length > 0 && !authzidPart.StartsWith("a=", StringComparison.Ordinal))
            return SaslStep.Fail($"Invalid {_mechanism.Name} client first message: authzid");
        _gs2Header = message[..(second + 1)];
        _clientFirstBare = message[(second + 1)..];
        var attributes = _clientFirstBare.Split(',');
        if (attributes.Length < 2 || !attributes[0].StartsWith("n=", StringComparison.Ordinal) || !attributes[1].StartsWith("r=", StringComparison.Ordinal))
            return SaslStep.Fail($"Invalid {_mechanism.Name} client first message: expected n=user,r=nonce");
        if (DecodeName(attributes[0][2..]) is not { Length: > 0 } user) return SaslStep.Fail($"Invalid {_mechanism.Name} user name");
        var clientNonce = attributes[1][2..];
        if (clientNonce.Length == 0) return SaslStep.Fail($"Invalid {_mechanism.Name} client nonce");
        for (var i = 2; i < attributes.Length; i++)
            if (attributes[i].StartsWith("tokenauth=", StringComparison.Ordinal) && attributes[i] != "tokenauth=false")
                return SaslStep.Fail("Authentication failed: delegation tokens are not supported");
        if (authzidPart.Length > 0 && DecodeName(authzidPart[2..]) != user)
            return SaslStep.Fail("Authentication failed: Client requested an authorization id that is different from username");
        User = user;
        _credential = _credentials.Find(user, _mechanism);
        _known = _credential is not null;
        _credential ??= _mechanism.Decoy(user);
        _nonce = clientNonce + _serverNonce;
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_credential.Salt)},i={_credential.Iterations}";
        _state = State.ClientFinal;
        return new SaslStep(SaslOutcome.Continue, Encoding.UTF8.GetBytes(_serverFirst), null);
    }

    // c=base64(gs2 header),r=nonce[,ext...],p=base64(proof); the proof is the last attribute.
    private SaslStep ClientFinal(string message)
    {
        var proofAt = message.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0) return SaslStep.Fail($"Invalid {_mechanism.Name} client final message: no proof");
        var withoutProof = message[..proofAt];
        var attributes = withoutProof.Split(',');
        if (attributes.Length < 2 || !attributes[0].StartsWith("c=", StringComparison.Ordinal) || !attributes[1].StartsWith("r=", StringComparison.Ordinal))
            return SaslStep.Fail($"Invalid {_mechanism.Name} client final message: expected c=…,r=…");
        if (!TryBase64(attributes[0][2..], out var binding) || Encoding.UTF8.GetString(binding) != _gs2Header)
            return SaslStep.Fail($"Invalid {_mechanism.Name} client final message: channel binding does not match");
        // Kafka's rule (endsWith, not equality): librdkafka 2.0 sends its client nonce twice before the server's part,
        // and the proof covers the message as sent.
        if (!attributes[1][2..].EndsWith(_nonce, StringComparison.Ordinal))
            return SaslStep.Fail($"Invalid {_mechanism.Name} client final message: nonce does not match");
        if (!TryBase64(message[(proofAt + 3)..], out var proof) || proof.Length != _mechanism.KeyLength) return SaslStep.Fail(InvalidCredentials);

        var credential = _credential!;
        var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
        var clientKey = _mechanism.Hmac(credential.StoredKey, authMessage);
        for (var i = 0; i < clientKey.Length; i++) clientKey[i] ^= proof[i];
        if (!CryptographicOperations.FixedTimeEquals(_mechanism.H(clientKey), credential.StoredKey) || !_known)
            return SaslStep.Fail(InvalidCredentials);
        var serverSignature = _mechanism.Hmac(credential.ServerKey, authMessage);
        return new SaslStep(SaslOutcome.Complete, Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature)), null);
    }

    /// <summary>saslname of RFC 5802: '=2C' is ',' and '=3D' is '='; any other '=' is invalid (null).</summary>
    private static string? DecodeName(string name)
    {
        if (!name.Contains('=', StringComparison.Ordinal)) return name;
        var result = new StringBuilder(name.Length);
        for (var i = 0; i < name.Length; i++)
        {
            if (name[i] != '=') result.Append(name[i]);
            else if (string.CompareOrdinal(name, i, "=2C", 0, 3) == 0) { result.Append(','); i += 2; }
            else if (string.CompareOrdinal(name, i, "=3D", 0, 3) == 0) { result.Append('='); i += 2; }
            else return null;
        }
        return result.ToString();
    }

    private static bool TryBase64(string text, out byte[] bytes)
    {
        bytes = new byte[(text.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(text, bytes, out var written)) return false;
        bytes = bytes[..written];
        return true;
    }
}
