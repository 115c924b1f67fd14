using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OrleansStream.TestKit;

/// <summary>
/// Ports for the servers the tests start (silos, Azurite, Redis). A port the kernel hands out for port 0 comes from the
/// ephemeral range (32768-60999 on Linux), the same range every outgoing connection takes its local port from, so between
/// finding such a port free and a child process binding it, any connection of any process could take it ("Address
/// already in use"). These ports come from below that range and below Orleans' TestingHost ranges (22300-30000 and
/// 40000-50000), and each is reserved for as long as this process lives by an exclusive lock on a file named after it:
/// the test projects run side by side, each skipping the ports the others hold, and a dead process's locks go with it.
/// </summary>
public static class TestPorts
{
    private const int First = 15000;
    private const int End = 22300;

    private static readonly string s_directory = Path.Combine(Path.GetTempPath(), "orleansstream-test-ports");
    private static readonly List<FileStream> s_reservations = [];
    private static readonly Lock s_gate = new();

    public static int Reserve()
    {
        Directory.CreateDirectory(s_directory);
        lock (s_gate)
        {
            for (var attempt = 0; attempt < 10_000; attempt++)
            {
                var port = Random.Shared.Next(First, End);
                FileStream reservation;
                try
                {
                    // FileShare.None takes flock(LOCK_EX) on Unix: refused while any process (this one included) holds it.
                    reservation = new FileStream(Path.Combine(s_directory, port.ToString(CultureInfo.InvariantCulture) + ".lock"),
                        FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                }
                catch (IOException)
                {
                    continue;
                }

                if (!IsFree(port))
                {
                    reservation.Dispose();
                    continue;
                }

                s_reservations.Add(reservation);
                return port;
            }
        }

        throw new InvalidOperationException($"No free TCP port between {First} and {End} that no other test process holds.");
    }

    // Bound on every address without SO_REUSEADDR: refused if anything listens on the port or a closed connection of it lingers.
    private static bool IsFree(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
