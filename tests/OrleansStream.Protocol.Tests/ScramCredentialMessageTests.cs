using System.Security.Cryptography;
using OrleansStream.Protocol.Messages;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>DescribeUserScramCredentials and AlterUserScramCredentials v0 (KIP-554), byte for byte against Kafka's message schemas.</summary>
public class ScramCredentialMessageTests
{
    [Fact]
    public void DescribeUserScramCredentials_requests_name_users_or_none()
    {
        var named = Hex.Parse("02 06616c696365 00 00");
        var all = Hex.Parse("00 00");

        var r = new KafkaReader(named);
        Assert.Equal(["alice"], DescribeUserScramCredentialsRequest.Read(ref r, 0).Users!);
        Assert.Equal(0, r.Remaining);
        var n = new KafkaReader(all);
        Assert.Null(DescribeUserScramCredentialsRequest.Read(ref n, 0).Users);
        Assert.Equal(0, n.Remaining);
        using var w = new KafkaWriter();
        new DescribeUserScramCredentialsRequest(["alice"]).Write(w, 0);
        Assert.Equal(named, w.WrittenSpan.ToArray());
    }

    [Fact]
    public void AlterUserScramCredentials_requests_carry_deletions_then_upsertions_with_salt_and_salted_password()
    {
        var bytes = Hex.Parse("02 04626f62 02 00" + " 02 06616c696365 01 00001000 03 0102 02 aa 00" + " 00");

        var r = new KafkaReader(bytes);
        var request = AlterUserScramCredentialsRequest.Read(ref r, 0);

        Assert.Equal(0, r.Remaining);
        Assert.Equal([new ScramCredentialDeletion("bob", 2)], request.Deletions);
        var upsertion = Assert.Single(request.Upsertions);
        Assert.Equal(("alice", (sbyte)1, 4096), (upsertion.Name, upsertion.Mechanism, upsertion.Iterations));
        Assert.Equal([1, 2], upsertion.Salt);
        Assert.Equal([0xaa], upsertion.SaltedPassword);
        using var w = new KafkaWriter();
        request.Write(w, 0);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Fact]
    public void The_answers_have_Kafkas_layout()
    {
        using var describe = new KafkaWriter();
        using var alter = new KafkaWriter();
        new DescribeUserScramCredentialsResponse(ErrorCode.None, null,
            [new DescribeUserScramCredentialsResult("alice", ErrorCode.None, null, [new ScramCredentialInfo(1, 4096), new ScramCredentialInfo(2, 8192)])]).Write(describe, 0);
        new AlterUserScramCredentialsResponse(
            [new AlterUserScramCredentialsResult("alice", ErrorCode.None, null), new AlterUserScramCredentialsResult("bob", ErrorCode.ResourceNotFound, "m")]).Write(alter, 0);

        Assert.Equal(Hex.Parse("00000000 0000 00 02 06616c696365 0000 00 03 01 00001000 00 02 00002000 00 00 00"), describe.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse("00000000 03 06616c696365 0000 00 00 04626f62 005b 026d 00 00"), alter.WrittenSpan.ToArray());
        var d = new KafkaReader(describe.WrittenSpan);
        Assert.Equal([new ScramCredentialInfo(1, 4096), new ScramCredentialInfo(2, 8192)], DescribeUserScramCredentialsResponse.Read(ref d, 0).Results[0].CredentialInfos);
        var a = new KafkaReader(alter.WrittenSpan);
        Assert.Equal(new AlterUserScramCredentialsResult("bob", ErrorCode.ResourceNotFound, "m"), AlterUserScramCredentialsResponse.Read(ref a, 0).Results[1]);
    }

    /// <summary>A client's salted password (PBKDF2 of the password, KIP-554) makes the credential the password makes at the broker.</summary>
    [Theory]
    [InlineData("SCRAM-SHA-256", 1)]
    [InlineData("SCRAM-SHA-512", 2)]
    public void A_salted_password_makes_the_credential_of_its_password(string name, sbyte type)
    {
        var mechanism = ScramMechanism.ForName(name)!;
        var salt = RandomNumberGenerator.GetBytes(16);
        var saltedPassword = Rfc2898DeriveBytes.Pbkdf2("dave-secret"u8, salt, 8192, mechanism.Hash, mechanism.KeyLength);

        var credential = mechanism.CredentialFromSaltedPassword(salt, saltedPassword, 8192);

        Assert.Same(mechanism, ScramMechanism.ForType(type));
        Assert.Equal(credential.Format(), mechanism.CreateCredential("dave-secret"u8, salt, 8192).Format());
        Assert.True(mechanism.Matches(credential, "dave-secret"u8));
        Assert.False(mechanism.Matches(credential, "dave-secret!"u8));
        Assert.Null(ScramMechanism.ForType(0));
    }
}
