Console.Error.WriteLine("The broker host arrives with the cluster issue.");
return 1;
