namespace OrleansStream.Client;

/// <summary>Base of the SDK's exceptions; an <see cref="OrleansStreamException"/> carrying an <see cref="Client.Error"/>.</summary>
public class KafkaException(Error error, Exception? inner = null) : OrleansStreamException(error.Code, error.Reason, inner)
{
    public Error Error { get; } = error;
}
