using OrleansStream.Cli;

return await CliApp.RunAsync(args);
