//! `#[derive(Metrics)]`: a struct of metrics declared once. Each field is a
//! metric (its doc comment the HELP text, its name the metric's name) or a
//! nested group of metrics; `register` declares them all on a registry.
//! Re-exported by `nanometrics` (feature `derive`, on by default), which
//! documents it: see `nanometrics::Metrics`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, Attribute, Data, DeriveInput, Expr, ExprLit, Fields, GenericArgument, Ident,
    Lit, LitStr, Meta, PathArguments, Token, Type,
};

/// Derives `nanometrics::Metrics` for a struct with named fields; see
/// `nanometrics::Metrics`.
#[proc_macro_derive(Metrics, attributes(metrics, metric))]
pub fn derive_metrics(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The metric types a field may have, by the last segment of its path.
const METRIC_TYPES: [&str; 6] = [
    "Counter",
    "FloatCounter",
    "UpDownCounter",
    "Gauge",
    "Histogram",
    "Summary",
];

/// Types that are surely not a group of metrics: a clearer error than the
/// missing trait's.
const NOT_GROUPS: [&str; 20] = [
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char", "String", "str", "Vec", "Option",
];

/// The generated code's registry variable: a name of its own with
/// mixed-site hygiene, so that nothing of the user's (a `static
/// registry`, a type from a macro) is confused with it.
fn registry_ident() -> Ident {
    Ident::new("__nanometrics_registry", Span::mixed_site())
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let registry = registry_ident();
    let fields =
        match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(f) => &f.named,
                _ => return Err(syn::Error::new(
                    input.ident.span(),
                    "#[derive(Metrics)] needs a struct with named fields (each field is a metric)",
                )),
            },
            _ => {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "#[derive(Metrics)] is for structs (each field is a metric)",
                ))
            }
        };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Metrics)] does not take generic parameters",
        ));
    }
    if let Some(a) = input.attrs.iter().find(|a| a.path().is_ident("metric")) {
        return Err(syn::Error::new(
            a.path().span(),
            "#[metric(..)] goes on a field; the struct takes #[metrics(prefix = .., const_labels = ..)]",
        ));
    }
    let group = GroupAttrs::parse(&input.attrs)?;
    let mut inits = Vec::new();
    let mut errors: Option<syn::Error> = None;
    for field in fields {
        match field_init(field) {
            Ok(init) => inits.push(init),
            Err(e) => match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            },
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }
    let scoped = match (&group.prefix, group.labels.is_empty()) {
        (None, true) => quote! { let #registry = #registry; },
        (prefix, _) => {
            let prefix = prefix.as_ref().map_or(String::new(), LitStr::value);
            let labels = group.labels.iter().map(|(k, v)| quote! { (#k, #v) });
            quote! {
                let #registry = &#registry.sub_registry(#prefix, &[#(#labels),*])?;
            }
        }
    };
    Ok(quote! {
        impl ::nanometrics::Metrics for #name {
            fn register(
                #registry: &::nanometrics::Registry,
            ) -> ::core::result::Result<Self, ::nanometrics::Error> {
                #scoped
                ::core::result::Result::Ok(Self {
                    #(#inits,)*
                })
            }
        }
    })
}

/// `#[metrics(prefix = "...", const_labels = [("k", "v"), ...])]` on the struct.
#[derive(Default)]
struct GroupAttrs {
    prefix: Option<LitStr>,
    labels: Vec<(LitStr, LitStr)>,
}

impl GroupAttrs {
    fn parse(attrs: &[Attribute]) -> syn::Result<GroupAttrs> {
        let mut out = GroupAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("metrics")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("prefix") {
                    out.prefix = Some(meta.value()?.parse()?);
                    Ok(())
                } else if meta.path.is_ident("const_labels") {
                    out.labels = parse_pairs(meta.value()?)?;
                    Ok(())
                } else {
                    Err(meta.error("unknown #[metrics(..)] key: expected prefix or const_labels"))
                }
            })?;
        }
        Ok(out)
    }
}

/// `[("k", "v"), ...]`.
fn parse_pairs(input: ParseStream<'_>) -> syn::Result<Vec<(LitStr, LitStr)>> {
    let content;
    syn::bracketed!(content in input);
    let pairs: Punctuated<Pair, Token![,]> = content.parse_terminated(Pair::parse, Token![,])?;
    Ok(pairs.into_iter().map(|p| (p.0, p.1)).collect())
}

struct Pair(LitStr, LitStr);

impl Parse for Pair {
    fn parse(input: ParseStream<'_>) -> syn::Result<Pair> {
        let content;
        syn::parenthesized!(content in input);
        let k: LitStr = content.parse()?;
        content.parse::<Token![,]>()?;
        let v: LitStr = content.parse()?;
        Ok(Pair(k, v))
    }
}

/// `#[metric(...)]` on a field.
#[derive(Default)]
struct MetricAttrs {
    name: Option<LitStr>,
    labels: Option<Vec<LitStr>>,
    unit: Option<LitStr>,
    buckets: Option<Expr>,
    const_labels: Vec<(LitStr, LitStr)>,
    cardinality_limit: Option<Expr>,
    info: bool,
    state_set: bool,
    /// Where the attribute is, for errors about its combination.
    span: Option<Span>,
}

impl MetricAttrs {
    fn parse(attrs: &[Attribute]) -> syn::Result<MetricAttrs> {
        let mut out = MetricAttrs::default();
        let mut seen: Vec<String> = Vec::new();
        for attr in attrs.iter().filter(|a| a.path().is_ident("metric")) {
            out.span = Some(attr.path().span());
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(Ident::to_string)
                    .unwrap_or_default();
                if seen.contains(&key) {
                    return Err(meta.error(format!("`{key}` is given twice")));
                }
                seen.push(key.clone());
                match key.as_str() {
                    "name" => out.name = Some(meta.value()?.parse()?),
                    "unit" => out.unit = Some(meta.value()?.parse()?),
                    "labels" => {
                        let value = meta.value()?;
                        let content;
                        syn::bracketed!(content in value);
                        let l: Punctuated<LitStr, Token![,]> =
                            content.parse_terminated(|p| p.parse::<LitStr>(), Token![,])?;
                        out.labels = Some(l.into_iter().collect());
                    }
                    "buckets" => out.buckets = Some(meta.value()?.parse()?),
                    "const_labels" => out.const_labels = parse_pairs(meta.value()?)?,
                    "cardinality_limit" => out.cardinality_limit = Some(meta.value()?.parse()?),
                    "info" => out.info = true,
                    "state_set" => out.state_set = true,
                    _ => {
                        return Err(meta.error(
                            "unknown #[metric(..)] key: expected name, labels, unit, buckets, \
                             const_labels, cardinality_limit, info or state_set",
                        ))
                    }
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// The field's doc comment as the HELP expression: literal lines trimmed
/// and joined by spaces; a computed one (`#[doc = include_str!(..)]`,
/// `concat!`, a macro fragment) is evaluated where the HELP is needed.
fn doc_comment(attrs: &[Attribute]) -> Option<TokenStream2> {
    let mut parts: Vec<TokenStream2> = Vec::new();
    let mut all_literal = true;
    let mut lines: Vec<String> = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let Meta::NameValue(nv) = &a.meta {
            match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => {
                    let line = s.value().trim().to_string();
                    if !line.is_empty() {
                        parts.push(quote! { #line });
                        lines.push(line);
                    }
                }
                e => {
                    all_literal = false;
                    parts.push(quote! { #e });
                }
            }
        }
    }
    if parts.is_empty() {
        return None;
    }
    if all_literal {
        let help = lines.join(" ");
        return Some(quote! { #help });
    }
    let mut joined = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            joined.push(quote! { " " });
        }
        joined.push(p);
    }
    Some(quote! { ::core::concat!(#(#joined),*) })
}

/// What a field's type is: a metric (which, and whether a family), or a
/// nested group.
enum FieldKind {
    Metric { ty: Ident, family: bool },
    Group,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        // A type from a `macro_rules!` fragment, or in parentheses.
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn classify(ty: &Type) -> syn::Result<FieldKind> {
    let Some(seg) = last_segment(ty) else {
        return Err(syn::Error::new(
            ty.span(),
            "a metrics field is a metric type (Counter, Gauge, Histogram, Family<Counter>, …) or a struct that implements Metrics",
        ));
    };
    let name = seg.ident.to_string();
    if METRIC_TYPES.contains(&name.as_str()) {
        return Ok(FieldKind::Metric {
            ty: seg.ident.clone(),
            family: false,
        });
    }
    if name == "Family" {
        let inner = match &seg.arguments {
            PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
                GenericArgument::Type(t) => last_segment(t).map(|s| s.ident.clone()),
                _ => None,
            },
            _ => None,
        };
        return match inner {
            Some(i) if METRIC_TYPES.contains(&i.to_string().as_str()) => Ok(FieldKind::Metric {
                ty: i,
                family: true,
            }),
            _ => Err(syn::Error::new(
                ty.span(),
                "Family<M> takes a metric type: Counter, FloatCounter, UpDownCounter, Gauge, Histogram or Summary",
            )),
        };
    }
    if NOT_GROUPS.contains(&name.as_str()) {
        return Err(syn::Error::new(
            ty.span(),
            format!(
                "`{name}` is not a metric: use Counter, FloatCounter, UpDownCounter, Gauge, Histogram, Summary, Family<..>, or a struct that implements Metrics"
            ),
        ));
    }
    Ok(FieldKind::Group)
}

/// `Buckets::` before a bare constructor call (`exponential(..)`,
/// `linear(..)`, `log(..)`, `explicit(..)`); any other expression as is.
fn buckets_expr(e: &Expr) -> TokenStream2 {
    if let Expr::Call(call) = e {
        if let Expr::Path(p) = &*call.func {
            if let Some(id) = p.path.get_ident() {
                if ["exponential", "linear", "log", "explicit"].contains(&id.to_string().as_str()) {
                    let args = &call.args;
                    return quote_spanned! {e.span()=> ::nanometrics::Buckets::#id(#args) };
                }
            }
        }
    }
    quote! { #e }
}

fn field_init(field: &syn::Field) -> syn::Result<TokenStream2> {
    let ident = field
        .ident
        .as_ref()
        .ok_or_else(|| syn::Error::new(field.span(), "fields need names"))?;
    if let Some(a) = field.attrs.iter().find(|a| a.path().is_ident("metrics")) {
        return Err(syn::Error::new(
            a.path().span(),
            "#[metrics(..)] goes on the struct; a field takes #[metric(..)] (a nested group, its own struct's #[metrics(..)])",
        ));
    }
    let attrs = MetricAttrs::parse(&field.attrs)?;
    let kind = classify(&field.ty)?;
    let (ty, family) = match kind {
        FieldKind::Group => {
            if let Some(span) = attrs.span {
                return Err(syn::Error::new(
                    span,
                    "#[metric(..)] is for metric fields; a nested group takes its options from its own #[metrics(..)]",
                ));
            }
            let fty = &field.ty;
            let registry = registry_ident();
            return Ok(quote_spanned! {fty.span()=>
                #ident: <#fty as ::nanometrics::Metrics>::register(#registry)?
            });
        }
        FieldKind::Metric { ty, family } => (ty, family),
    };
    let span = field.span();
    let help = doc_comment(&field.attrs).ok_or_else(|| {
        syn::Error::new(
            ident.span(),
            format!("`{ident}` needs a doc comment: it is the metric's HELP text (`/// What it counts.`)"),
        )
    })?;
    let name = attrs
        .name
        .as_ref()
        .map_or_else(|| ident.unraw().to_string(), LitStr::value);
    let ty_name = ty.to_string();
    let registry = registry_ident();
    let mut chain = quote! { #registry.metric(#name, #help) };
    if let Some(u) = &attrs.unit {
        chain = quote! { #chain.unit(#u) };
    }
    for (k, v) in &attrs.const_labels {
        chain = quote! { #chain.const_label(#k, #v) };
    }
    if let Some(n) = &attrs.cardinality_limit {
        chain = quote! { #chain.cardinality_limit(#n) };
    }
    match (&attrs.buckets, ty_name.as_str()) {
        (Some(b), "Histogram") => {
            let b = buckets_expr(b);
            chain = quote! { #chain.buckets(#b) };
        }
        (Some(b), _) => {
            return Err(syn::Error::new(
                b.span(),
                format!("buckets are for histograms; `{ident}` is a {ty_name}"),
            ))
        }
        (None, _) => {}
    }
    if (attrs.info || attrs.state_set) && !(family && ty_name == "Gauge") {
        return Err(syn::Error::new(
            attrs.span.unwrap_or(span),
            "info and state_set are for Family<Gauge> fields",
        ));
    }
    if attrs.info && attrs.state_set {
        return Err(syn::Error::new(
            attrs.span.unwrap_or(span),
            "a family is info or state_set, not both",
        ));
    }
    let labels = attrs.labels.clone().unwrap_or_default();
    if !family && attrs.labels.is_some() {
        return Err(syn::Error::new(
            attrs.span.unwrap_or(span),
            format!("labels are for families: make `{ident}` a Family<{ty_name}>"),
        ));
    }
    if family && attrs.labels.is_none() && !attrs.state_set {
        return Err(syn::Error::new(
            ident.span(),
            format!("`{ident}` is a family: give its label names, #[metric(labels = [\"..\"])]"),
        ));
    }
    let ty_path = quote! { ::nanometrics::#ty };
    let init = if attrs.info {
        quote! { #chain.info_family(&[#(#labels),*])? }
    } else if attrs.state_set {
        quote! { #chain.state_set(&[#(#labels),*])? }
    } else if family {
        quote! { #chain.family::<#ty_path>(&[#(#labels),*])? }
    } else {
        quote! { #chain.build::<#ty_path>()? }
    };
    Ok(quote_spanned! {span=> #ident: #init })
}
