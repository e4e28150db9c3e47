//! The `tracing_subscriber::Layer` callbacks: each decides what applies and delegates, to the
//! filter (`filtering.rs`), request scoping (`scoping.rs`), the formats and outputs, the
//! exporters (`export.rs`).

use tracing::{
    span::{Attributes, Id, Record},
    subscriber::Interest,
    Dispatch, Event, Metadata, Subscriber,
};
use tracing_subscriber::{filter::LevelFilter, layer::Context, registry::LookupSpan, Layer};

use super::{filtering::TRACING_FLOOR, scoping::FailureFields, TracewireLayer};
use crate::{
    subscriber::{
        line::timestamp::{self, Instant},
        scope::Scoping,
        span_data::SpanData,
        timing::{self, Timing},
    },
    trace::{IdentityFields, Recorder, SpanContext, SpanFields, Split},
};

impl<S> Layer<S> for TracewireLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        let interest = self
            .filter
            .with(|f| Layer::<S>::register_callsite(&f.env, meta));
        if meta.is_span() && *meta.level() <= TRACING_FLOOR {
            Interest::always()
        } else if interest.is_never()
            && self.scoping.as_ref().is_some_and(|s| s.may_ever_want(meta))
        {
            // Hidden by the filter, but a request may want it: asked per event.
            Interest::sometimes()
        } else {
            interest
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        if meta.is_span() && *meta.level() <= TRACING_FLOOR {
            return true;
        }
        if let Some(scoping) = &self.scoping {
            if scoping.may_want(meta) && self.current_request_wants(scoping, meta, &ctx) {
                return true;
            }
            // The callsite's own metadata (not a `log` record's, whose target varies): the
            // filter's answer is cached, so a hidden event a request could want costs little.
            let own = meta.callsite().0.metadata();
            if std::ptr::eq(own, meta) {
                return self.shows(own, &ctx);
            }
        }
        self.filter.with(|f| f.env.enabled(meta, ctx))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let filter = self
            .filter
            .with(|f| f.env.max_level_hint())
            .unwrap_or(LevelFilter::TRACE);
        let scoped = self
            .scoping
            .as_ref()
            .map_or(LevelFilter::OFF, Scoping::ceiling);
        Some(
            filter
                .max(scoped)
                .max(LevelFilter::from_level(TRACING_FLOOR)),
        )
    }

    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        if let Some(rate) = self.scoping.as_ref().and_then(|s| s.rate.as_ref()) {
            rate.set_dispatch(dispatch);
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.filter
            .follow(|env| env.on_new_span(attrs, id, ctx.clone()));
        let Some(span) = ctx.span(id) else { return };
        let meta = attrs.metadata();
        let mut identity = IdentityFields::default();
        let mut fields = SpanFields::default();
        if self.keeps_fields() {
            let mut recorder = Recorder {
                fields: &mut fields,
                redact: &self.format.style.redact,
                limit: self.format.style.limit,
            };
            attrs.record(&mut Split {
                identity: &mut identity,
                rest: &mut recorder,
            });
        }
        let mut lines = self.format.new_span(meta, &fields, |v| {
            attrs.record(&mut Split {
                identity: &mut identity,
                rest: v,
            })
        });
        let remote = identity.remote.is_some();
        let (mut context, parent_request) = {
            let parent = span.parent();
            let parent_ext = parent.as_ref().map(|p| p.extensions());
            let parent_data = parent_ext.as_ref().and_then(|e| e.get::<SpanData>());
            (
                SpanContext::new(
                    identity.remote,
                    parent_data.map(|d| &d.context),
                    identity.x_request_id,
                ),
                parent_data.and_then(|d| d.request.clone()),
            )
        };
        let (request, starts_request) = match &self.scoping {
            Some(scoping) => scoping.for_span(parent_request.as_ref(), remote, &context),
            None => (None, false),
        };
        // Only span events use it: without them, no filter decision per span.
        let visible = self.span_events
            && (self.shows(meta, &ctx) || request.as_ref().is_some_and(|r| r.raises(meta.level())));
        let export_start = self.exports.span_started(meta, &mut context, &fields);
        self.format.set_identity(&mut lines, meta, &context);
        let now = Instant::now();
        let data = SpanData {
            context,
            fields,
            lines,
            visible,
            timing: Timing::new(now),
            export_start,
            request,
            starts_request,
        };
        if visible {
            self.span_event(&span, &data, None, now);
        }
        if let (Some(scoping), Some(request), true) = (&self.scoping, &data.request, starts_request)
        {
            scoping.started(request);
        }
        span.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.filter
            .follow(|env| env.on_record(id, values, ctx.clone()));
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(data) = extensions.get_mut::<SpanData>() else {
            return;
        };
        let meta = span.metadata();
        let mut identity = IdentityFields::default();
        if self.keeps_fields() {
            let mut recorder = Recorder {
                fields: &mut data.fields,
                redact: &self.format.style.redact,
                limit: self.format.style.limit,
            };
            values.record(&mut Split {
                identity: &mut identity,
                rest: &mut recorder,
            });
        }
        self.format
            .record(&mut data.lines, meta, &data.fields, |v| {
                values.record(&mut Split {
                    identity: &mut identity,
                    rest: v,
                })
            });
        // A remote parent recorded later is ignored: a span's trace is decided when it is
        // created. A request id recorded later is the span's from now on.
        if let Some(id) = identity.x_request_id {
            data.context.x_request_id = Some(id);
            self.format
                .set_identity(&mut data.lines, meta, &data.context);
        }
        let holding = data.request.clone().filter(|r| r.captures());
        drop(extensions);
        if let Some(request) = holding {
            let mut failure = FailureFields(false);
            values.record(&mut failure);
            if let Some(failed) = failure.0.then(|| request.fail()).flatten() {
                self.write_held(failed);
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.filter.follow(|env| env.on_enter(id, ctx.clone()));
        // Busy time is only ever written in SPAN_CLOSED lines: without span events, an async
        // span's many enters and exits (one per poll) cost nothing here.
        if self.span_events {
            timing::enter(self.id, id, Instant::now());
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.filter.follow(|env| env.on_exit(id, ctx.clone()));
        if !self.span_events {
            return;
        }
        let Some(since) = timing::leave(self.id, id) else {
            return;
        };
        let busy = timestamp::nanos(since.elapsed());
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(data) = extensions.get_mut::<SpanData>() {
            data.timing.add_busy(busy);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let now = Instant::now();
            let extensions = span.extensions();
            if let Some(data) = extensions.get::<SpanData>() {
                if let (Some(scoping), Some(request), true) =
                    (&self.scoping, &data.request, data.starts_request)
                {
                    scoping.ended(request);
                }
                self.exports.span_ended(span.metadata(), data, now);
                if data.visible {
                    self.span_event(&span, data, Some(data.timing.close(now)), now);
                }
            }
        }
        self.filter.follow(|env| env.on_close(id, ctx));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let span = ctx.event_span(event);
        // One clock read for the line, the rate limit and the exported record.
        let time = self.format.style.now();
        if let Some(scoping) = &self.scoping {
            if !self.scope_event(scoping, event, &ctx, span.as_ref(), time) {
                return;
            }
        }
        self.exports.event(event, span.as_ref(), time);
        self.outputs.emit(|buf, ansi| {
            self.format
                .write_event::<SpanData, S>(buf, ansi, event, span.as_ref(), time)
        });
        self.metrics.line(event.metadata().level());
    }
}
