using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Testing;

namespace Tollgate.Storage.Tests.Usage;

/// <summary>Listens to one instrument of one app's meters: other apps in the same test process have their own.</summary>
internal static class AppMeters
{
    /// <summary>Starts a listener that hands each measurement of <paramref name="instrument"/> to <paramref name="measured"/>.</summary>
    public static MeterListener Listen(TollgateApp app, string instrument, MeasurementCallback<long> measured)
    {
        var meters = app.Services.GetRequiredService<IMeterFactory>();
        var listener = new MeterListener
        {
            InstrumentPublished = (published, l) =>
            {
                if (published.Name == instrument && ReferenceEquals(published.Meter.Scope, meters))
                {
                    l.EnableMeasurementEvents(published);
                }
            },
        };
        listener.SetMeasurementEventCallback(measured);
        listener.Start();
        return listener;
    }
}
