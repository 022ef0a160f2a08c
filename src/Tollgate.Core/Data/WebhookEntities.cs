namespace Tollgate.Data;

/// <summary>Where an admin asked for events to be sent: one tenant's, or every tenant's (no tenant).</summary>
public sealed class WebhookEndpoint
{
    /// <summary>Longest accepted URL.</summary>
    public const int MaxUrlLength = 1000;

    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>The tenant whose events are sent; null for every tenant's (super admins only).</summary>
    public long? TenantId { get; set; }

    /// <summary>Absolute http(s) URL the events are POSTed to.</summary>
    public required string Url { get; set; }

    /// <summary>The event types sent, separated by commas (<c>quota.threshold</c>).</summary>
    public required string Events { get; set; }

    /// <summary>
    /// The signing secret, <c>whsec_</c> and base64 of 32 random bytes. Kept as is (not hashed): it is an HMAC key that
    /// every instance must read to sign, not a password to check; the API shows it only once, at creation.
    /// </summary>
    public required string Secret { get; set; }

    /// <summary>False once the receiver answered 410 Gone (or an admin turned it off): nothing more is sent.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Why it was disabled, when it was.</summary>
    public string? DisabledReason { get; set; }

    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>Where a webhook message stands.</summary>
public enum WebhookMessageStatus
{
    /// <summary>Waiting for its next attempt.</summary>
    Pending,

    /// <summary>A 2xx answer was received.</summary>
    Delivered,

    /// <summary>Every retry failed, or the endpoint is gone.</summary>
    Failed,
}

/// <summary>
/// One event for one endpoint, stored before it is sent: the body is fixed when the message is made, and every
/// attempt sends it with the same <c>webhook-id</c>. Claimed by one instance at a time through a lease.
/// </summary>
public sealed class WebhookMessage
{
    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>The endpoint.</summary>
    public long EndpointId { get; set; }

    /// <summary>The <c>webhook-id</c> header of every attempt (<c>msg_…</c>).</summary>
    public required string WebhookId { get; set; }

    /// <summary>The event type (<c>quota.threshold</c>, <c>webhook.test</c>).</summary>
    public required string EventType { get; set; }

    /// <summary>The JSON body, exactly as signed and sent.</summary>
    public required string Payload { get; set; }

    /// <summary>The quota alert it was made from; null for a test event.</summary>
    public long? AlertId { get; set; }

    /// <summary>When it was made (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Pending, delivered or failed.</summary>
    public WebhookMessageStatus Status { get; set; }

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; set; }

    /// <summary>When the next attempt is due (UTC); null once delivered or failed.</summary>
    public DateTime? NextAttemptAt { get; set; }

    /// <summary>The instance that holds the lease (claimed the message to send it).</summary>
    public string? LeaseOwner { get; set; }

    /// <summary>The lease ends at this time (UTC); another instance may claim the message after it.</summary>
    public DateTime? LeaseUntil { get; set; }
}

/// <summary>One attempt to deliver a message: what the receiver answered, or why there was no answer.</summary>
public sealed class WebhookAttempt
{
    /// <summary>Longest stored error text.</summary>
    public const int MaxErrorLength = 500;

    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>The message.</summary>
    public long MessageId { get; set; }

    /// <summary>When the attempt was made (UTC).</summary>
    public DateTime AttemptedAt { get; set; }

    /// <summary>The receiver's status code; null without an answer (timeout, refused, no connection).</summary>
    public int? StatusCode { get; set; }

    /// <summary>What went wrong, when something did.</summary>
    public string? Error { get; set; }

    /// <summary>When the next attempt is due (UTC); null when none follows.</summary>
    public DateTime? NextAttemptAt { get; set; }
}
