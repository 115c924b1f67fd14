Console.Error.WriteLine("The CLI arrives with the cluster issue.");
return 1;
