namespace OrleansStream.Client.Admin;

/// <summary>The outcome for one topic of an admin request.</summary>
public sealed record TopicReport(string Topic, Error Error);
