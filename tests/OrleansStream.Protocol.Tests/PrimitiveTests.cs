using System.Buffers;

namespace OrleansStream.Protocol.Tests;

/// <summary>Kafka's protocol primitives, byte for byte as its protocol guide and its Java types write them.</summary>
public class PrimitiveTests
{
    [Fact]
    public void Fixed_width_integers_are_big_endian()
    {
        using var w = new KafkaWriter();
        w.WriteInt8(-2);
        w.WriteInt16(0x0102);
        w.WriteInt32(0x03040506);
        w.WriteInt64(0x0708090A0B0C0D0E);
        w.WriteBoolean(true);

        Assert.Equal(Hex.Parse("fe 0102 03040506 0708090a0b0c0d0e 01"), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(-2, r.ReadInt8());
        Assert.Equal(0x0102, r.ReadInt16());
        Assert.Equal(0x03040506, r.ReadInt32());
        Assert.Equal(0x0708090A0B0C0D0E, r.ReadInt64());
        Assert.True(r.ReadBoolean());
        Assert.Equal(0, r.Remaining);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bytes_written_by_reference_frame_to_the_same_bytes_as_copied_ones(bool flexible)
    {
        var large = new byte[KafkaWriter.MinReferencedBytes * 3 + 7];
        var second = new byte[KafkaWriter.MinReferencedBytes];
        Random.Shared.NextBytes(large);
        Random.Shared.NextBytes(second);
        var small = new byte[] { 1, 2, 3 };
        void Write(KafkaWriter w, bool byReference)
        {
            var frame = w.BeginFrame();
            w.WriteInt32(7);
            foreach (var bytes in new[] { large, small, second })
            {
                if (byReference) w.WriteBytesByReference(bytes, flexible);
                else w.WriteBytes(bytes, flexible);
                w.WriteInt16(-1);
            }
            w.EndFrame(frame);
        }
        using var copied = new KafkaWriter();
        using var referenced = new KafkaWriter();
        Write(copied, byReference: false);
        Write(referenced, byReference: true);

        Assert.True(referenced.HasReferences);
        Assert.Equal(copied.Length, referenced.TotalLength);
        Assert.True(referenced.Length < KafkaWriter.MinReferencedBytes, "the large fields were copied");
        Assert.Equal(copied.WrittenSpan.ToArray(), referenced.WrittenSequence.ToArray());
        Assert.Throws<InvalidOperationException>(() => referenced.WrittenMemory);

        referenced.Reset();
        referenced.WriteInt32(1);
        Assert.False(referenced.HasReferences);
        Assert.Equal(Hex.Parse("00000001"), referenced.WrittenSequence.ToArray());
    }

    [Theory]
    [InlineData(0u, "00")]
    [InlineData(1u, "01")]
    [InlineData(127u, "7f")]
    [InlineData(128u, "8001")]
    [InlineData(300u, "ac02")]
    [InlineData(uint.MaxValue, "ffffffff0f")]
    public void Unsigned_varints_match_Kafkas_encoding(uint value, string hex)
    {
        using var w = new KafkaWriter();
        w.WriteUnsignedVarint(value);

        Assert.Equal(Hex.Parse(hex), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(value, r.ReadUnsignedVarint());
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Signed_varlongs_round_trip_zigzag(long value)
    {
        using var w = new KafkaWriter();
        w.WriteVarlong(value);
        w.WriteVarint((int)(value >> 32));

        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(value, r.ReadVarlong());
        Assert.Equal((int)(value >> 32), r.ReadVarint());
    }

    [Fact]
    public void Strings_have_int16_lengths_and_compact_strings_length_plus_one()
    {
        using var w = new KafkaWriter();
        w.WriteString("ab", flexible: false);
        w.WriteNullableString(null, flexible: false);
        w.WriteString("ab", flexible: true);
        w.WriteNullableString(null, flexible: true);
        w.WriteString("", flexible: true);

        Assert.Equal(Hex.Parse("0002 6162 ffff 03 6162 00 01"), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal("ab", r.ReadString(false));
        Assert.Null(r.ReadNullableString(false));
        Assert.Equal("ab", r.ReadString(true));
        Assert.Null(r.ReadNullableString(true));
        Assert.Equal("", r.ReadString(true));
    }

    [Fact]
    public void Bytes_and_arrays_have_int32_lengths_and_compact_forms_varint_lengths()
    {
        using var w = new KafkaWriter();
        w.WriteBytes([9, 8], flexible: false);
        w.WriteNullBytes(flexible: false);
        w.WriteBytes([7], flexible: true);
        w.WriteInt32Array([1, 2], flexible: false);
        w.WriteArrayLength(-1, flexible: true);
        w.WriteInt32Array([3], flexible: true);

        Assert.Equal(Hex.Parse("00000002 0908 ffffffff 02 07 00000002 00000001 00000002 00 02 00000003"), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(new byte[] { 9, 8 }, r.ReadBytes(false).ToArray());
        Assert.Equal(-1, r.ReadNullableBytesRange(false).Length);
        Assert.Equal((11, 1), r.ReadNullableBytesRange(true));
        Assert.Equal([1, 2], r.ReadInt32Array(false));
        Assert.Equal(-1, r.ReadArrayLength(true));
        Assert.Equal([3], r.ReadInt32Array(true));
    }

    [Fact]
    public void Uuids_are_sixteen_big_endian_bytes()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        using var w = new KafkaWriter();
        w.WriteUuid(id);

        Assert.Equal(Hex.Parse("00112233445566778899aabbccddeeff"), w.WrittenSpan.ToArray());
        Assert.Equal(id, new KafkaReader(w.WrittenSpan).ReadUuid());
    }

    [Fact]
    public void Tagged_fields_the_broker_does_not_know_are_skipped()
    {
        // Two tagged fields (tag 0: 3 bytes, tag 5: 1 byte), then an int16.
        var r = new KafkaReader(Hex.Parse("02 00 03 aabbcc 05 01 dd 0007"));
        r.SkipTaggedFields();

        Assert.Equal(7, r.ReadInt16());
    }

    [Theory]
    [InlineData("00", "int16")]                     // cut short
    [InlineData("0005 6162", "string")]             // longer than the frame
    [InlineData("fffe", "string")]                  // length -2
    [InlineData("7fffffff", "array")]               // more elements than the frame can hold
    [InlineData("ffffffffff", "varint")]            // too long
    [InlineData("01 00 05 aa", "tags")]             // tagged field longer than the frame
    [InlineData("01 00 ffffffff0f aa", "tags")]     // tagged field of 4 GiB: no int holds its size
    public void Truncated_or_impossible_input_is_a_protocol_error(string hex, string field)
    {
        var bytes = Hex.Parse(hex);

        Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(bytes);
            _ = field switch
            {
                "int16" => r.ReadInt16(),
                "string" => r.ReadNullableString(false)?.Length ?? 0,
                "array" => r.ReadArrayLength(false),
                "varint" => (int)r.ReadUnsignedVarint(),
                _ => Skip(ref r),
            };
        });

        static int Skip(ref KafkaReader r)
        {
            r.SkipTaggedFields();
            return 0;
        }
    }

    [Fact]
    public void A_string_too_long_for_a_non_flexible_field_is_refused_and_an_error_message_is_cut_to_fit()
    {
        using var w = new KafkaWriter();
        Assert.Throws<KafkaProtocolException>(() => w.WriteString(new string('n', short.MaxValue + 1), flexible: false));
        w.Reset();
        w.WriteString(new string('n', short.MaxValue), flexible: false);
        Assert.Equal(2 + short.MaxValue, w.Length);

        // A message that quotes a long name: cut (and never inside a surrogate pair) rather than refused.
        var message = new string('é', 10_921) + "😀" + new string('x', 40_000);
        w.Reset();
        w.WriteErrorMessage(message, flexible: false);
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(new string('é', 10_921), r.ReadNullableString(false));
        w.Reset();
        w.WriteErrorMessage(message, flexible: true);
        Assert.Equal(message, new KafkaReader(w.WrittenSpan).ReadNullableString(true));
    }

    [Fact]
    public void The_writer_grows_past_its_first_buffer_and_frames_carry_their_size()
    {
        using var w = new KafkaWriter(initialCapacity: 16);
        var frame = w.BeginFrame();
        var big = new byte[10_000];
        big[9_999] = 42;
        w.WriteBytes(big, flexible: false);
        w.EndFrame(frame);

        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(10_004, r.ReadInt32());
        Assert.Equal(42, r.ReadBytes(false)[9_999]);
    }

    [Fact]
    public void A_writer_grown_by_a_large_response_gives_the_buffer_back_when_trimmed_and_a_small_one_keeps_it()
    {
        using var w = new KafkaWriter();
        w.Write(new byte[100]);
        var small = w.Capacity;
        w.ResetAndTrim(64 * 1024);
        Assert.Equal((0, small), (w.Length, w.Capacity));

        w.Write(new byte[1 << 20]);
        Assert.True(w.Capacity >= 1 << 20);
        w.ResetAndTrim(64 * 1024);

        Assert.Equal(0, w.Length);
        Assert.True(w.Capacity <= 64 * 1024, $"capacity {w.Capacity}");
        w.WriteInt32(7);
        Assert.Equal([0, 0, 0, 7], w.WrittenSpan.ToArray());
    }
}
