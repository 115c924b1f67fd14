namespace OrleansStream.Client.Admin;

public sealed class DeleteTopicsOptions : AdminOptions;
