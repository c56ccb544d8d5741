//! Reading an [`ActionV1`]: the name decides the part, and that part's own
//! derived reader reads the rest, straight from the input. (An untagged
//! union would buffer every action and try the parts one by one.)

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, IntoDeserializer, MapAccess, VariantAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};

use super::ActionV1;
use super::drop::DropActionV1;
use super::frame::FrameActionV1;
use super::holds::HoldActionV1;
use super::seated::SeatedActionV1;
use super::stock::StockActionV1;
use super::tickets::TicketActionV1;

impl<'de> Deserialize<'de> for ActionV1 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ActionVisitor)
    }
}

/// Every name an action is written under, for error messages.
const ALL: &[&str] = &[
    "reserve",
    "confirm",
    "cancel",
    "refund",
    "click",
    "hold_seats",
    "hold_best",
    "release_seat",
    "swap_seat",
    "open",
    "close",
    "join",
    "set_pow_bits",
    "edit",
    "archive",
    "admit",
    "sync_scans",
    "transfer_ticket",
];

/// Reads the action named `name` with the part that owns the name.
fn part<'de, D: Deserializer<'de>>(name: &str, d: D) -> Result<ActionV1, D::Error> {
    if StockActionV1::NAMES.contains(&name) {
        StockActionV1::deserialize(d).map(ActionV1::Stock)
    } else if HoldActionV1::NAMES.contains(&name) {
        HoldActionV1::deserialize(d).map(ActionV1::Holds)
    } else if DropActionV1::NAMES.contains(&name) {
        DropActionV1::deserialize(d).map(ActionV1::Drop)
    } else if SeatedActionV1::NAMES.contains(&name) {
        SeatedActionV1::deserialize(d).map(ActionV1::Seated)
    } else if FrameActionV1::NAMES.contains(&name) {
        FrameActionV1::deserialize(d).map(ActionV1::Frame)
    } else if TicketActionV1::NAMES.contains(&name) {
        TicketActionV1::deserialize(d).map(ActionV1::Tickets)
    } else {
        Err(de::Error::unknown_variant(name, ALL))
    }
}

struct ActionVisitor;

impl<'de> Visitor<'de> for ActionVisitor {
    type Value = ActionV1;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an action: a name, or an object with one name")
    }

    /// A unit action (`"open"`).
    fn visit_str<E: de::Error>(self, name: &str) -> Result<ActionV1, E> {
        part(name, name.into_deserializer())
    }

    /// An action with fields (`{"reserve":{"quantity":2}}`).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActionV1, A::Error> {
        let Some(Name(name)) = map.next_key()? else { return Err(de::Error::invalid_length(0, &self)) };
        let action = part(&name, Named { name: &name, map: &mut map })?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(2, &self));
        }
        Ok(action)
    }
}

/// A map key, borrowed from the input when it can be.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an action's name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The rest of `{"name": value}` once the name is read: an enum whose
/// variant is `name` and whose fields are the map's value.
struct Named<'a, A> {
    name: &'a str,
    map: &'a mut A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Named<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Named<'_, A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), A::Error> {
        let variant = seed.deserialize(self.name.into_deserializer())?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Named<'_, A> {
    type Error = A::Error;

    /// `{"open": null}`, as serde_json reads a unit variant written as an object.
    fn unit_variant(self) -> Result<(), A::Error> {
        self.map.next_value::<()>()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(Shaped { shape: Shape::Tuple(len), visitor })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(Shaped { shape: Shape::Struct(fields), visitor })
    }
}

enum Shape {
    Tuple(usize),
    Struct(&'static [&'static str]),
}

/// Reads a variant's value as the tuple or struct the part's reader expects.
struct Shaped<V> {
    shape: Shape,
    visitor: V,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Shaped<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        match self.shape {
            Shape::Tuple(len) => d.deserialize_tuple(len, self.visitor),
            Shape::Struct(fields) => d.deserialize_struct("", fields, self.visitor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_belongs_to_exactly_one_part() {
        let parts = [
            StockActionV1::NAMES,
            HoldActionV1::NAMES,
            DropActionV1::NAMES,
            SeatedActionV1::NAMES,
            FrameActionV1::NAMES,
            TicketActionV1::NAMES,
        ];
        let mut names: Vec<&str> = parts.concat();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name in two parts");
        let mut all = ALL.to_vec();
        all.sort_unstable();
        assert_eq!(names, all);
    }

    #[test]
    fn each_action_reads_back_as_written_and_strays_are_refused() {
        let written = [
            r#""open""#,
            r#""close""#,
            r#""click""#,
            r#""archive""#,
            r#"{"reserve":{"quantity":2}}"#,
            r#"{"confirm":{"hold":7}}"#,
            r#"{"cancel":{"hold":7}}"#,
            r#"{"refund":{"order":7}}"#,
            r#"{"join":{"nonce":3,"address":4}}"#,
            r#"{"set_pow_bits":{"bits":9}}"#,
            r#"{"hold_seats":{"seats":[1,2],"holders":[5,6]}}"#,
            r#"{"hold_best":{"area":{"tier":"R"},"count":2}}"#,
            r#"{"release_seat":{"order":1,"seat":2}}"#,
            r#"{"swap_seat":{"order":1,"from":2,"to":3}}"#,
            r#"{"edit":{"title":"t","opens_at_us":"by_hand","terms":{"kind":"drop","winners":3}}}"#,
            r#"{"admit":{"gate":4,"ticket":{"sale":1,"ticket":3,"seat":17,"holder":9,"generation":1}}}"#,
            r#"{"sync_scans":{"gate":4,"scans":[{"nonce":8,"scanned_at_us":5,"ticket":{"sale":1,"ticket":3,"unit":2,"holder":9,"generation":2}}]}}"#,
            r#"{"transfer_ticket":{"ticket":3,"to":12}}"#,
        ];
        for text in written {
            let action: ActionV1 = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(serde_json::to_string(&action).unwrap_or_default(), text);
        }
        for stray in [
            r#""bogus""#,
            r#""reserve""#,
            r#"{"bogus":{}}"#,
            r#"{"reserve":{"quantity":2},"click":null}"#,
            r#"{}"#,
            r#"{"reserve":{}}"#,
            r#"{"open":{}}"#,
            "7",
        ] {
            assert!(serde_json::from_str::<ActionV1>(stray).is_err(), "{stray} was read");
        }
    }
}
