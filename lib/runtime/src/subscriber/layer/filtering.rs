//! What the filter shows: its answer per callsite, cached per thread while its directives are
//! static; a `log` record asked afresh; and whether the current request wants what the filter
//! hides.

use std::cell::RefCell;

use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::{layer::Context, registry::LookupSpan};

use super::TracewireLayer;
use crate::subscriber::{
    line::{
        callsite::{self, Slots},
        keys::LOG_TARGET,
    },
    scope::Scoping,
    span_data::SpanData,
};

/// Spans at this level or above always exist, whatever the filter says.
pub(super) const TRACING_FLOOR: Level = Level::INFO;

thread_local! {
    /// Whether a layer (the owner) shows a span callsite.
    static SHOWN: RefCell<Slots<bool>> = const { RefCell::new(Slots::new()) };
}

impl TracewireLayer {
    /// Whether the filter enables a span or event of this callsite. With static directives
    /// only, the answer depends on the callsite alone, and scanning the directives (target
    /// prefixes) for every span would cost more than a per-thread cache: it is remembered per
    /// thread.
    pub(super) fn shows<S>(&self, meta: &'static Metadata<'static>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if self.filter.is_dynamic() {
            return self.filter.with(|f| f.env.enabled(meta, ctx.clone()));
        }
        // Keyed by the filter's id: a changed filter is asked again.
        callsite::with_cached_for(
            &SHOWN,
            meta,
            self.filter.cache_id(),
            || self.filter.with(|f| f.env.enabled(meta, ctx.clone())),
            |shown| *shown,
        )
    }

    /// Whether the filter itself shows `event` (rather than its request's level or capture).
    /// A `log` record is asked afresh: its callsite is one per level, whatever its target.
    pub(super) fn filter_shows_event<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // Only the `log` bridge's callsites (target "log") can normalize; the check is cheaper.
        let bridged = event.metadata().target() == LOG_TARGET;
        match bridged.then(|| event.normalized_metadata()).flatten() {
            Some(meta) => self.filter.with(|f| f.env.enabled(&meta, ctx.clone())),
            None => self.shows(event.metadata(), ctx),
        }
    }

    /// Whether the current span's request wants a span or event of `meta` the filter hides.
    pub(super) fn current_request_wants<S>(
        &self,
        scoping: &Scoping,
        meta: &Metadata<'_>,
        ctx: &Context<'_, S>,
    ) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Some(span) = ctx.lookup_current() else {
            return false;
        };
        let extensions = span.extensions();
        extensions
            .get::<SpanData>()
            .and_then(|d| d.request.as_deref())
            .is_some_and(|request| scoping.wants(request, meta))
    }
}
