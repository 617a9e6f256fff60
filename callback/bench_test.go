package callback

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkVerifyDecryptParse measures the work a POST does before it stores the event.
func BenchmarkVerifyDecryptParse(b *testing.B) {
	c := vectorCrypto(b)
	const timestamp, nonce = "1718000000", "1372623149"
	encrypt, err := c.Encrypt(readTestdata(b, "template_card_event.xml"), nil)
	if err != nil {
		b.Fatal(err)
	}
	sig := Signature(vecToken, timestamp, nonce, encrypt)
	b.ReportAllocs()
	for b.Loop() {
		if !c.Verify(sig, timestamp, nonce, encrypt) {
			b.Fatal("Verify failed")
		}
		plain, err := c.Decrypt(encrypt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseMessage(plain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvelopeVerifyDecryptParse is a POSTed 888-byte template_card_event from its body to
// the event ready to store, step by step as Serve takes it (credentials already cached): the
// envelope, the credentials' Crypto and the signature check, the decryption, the message parsed
// into the event's fields, its JSON payload and its dedup key.
func BenchmarkEnvelopeVerifyDecryptParse(b *testing.B) {
	const timestamp, nonce = "1718000000", "1372623149"
	body, encrypt := cardEventPost(b)
	sig := Signature(vecToken, timestamp, nonce, encrypt)
	lookup := func(context.Context, string, string) (Credentials, error) {
		return Credentials{AuthenticatorID: 1, CorpID: vecCorp, Token: vecToken, EncodingAESKey: vecKey}, nil
	}
	h := NewHandler(lookup, nil, 0, time.Now, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		env, err := ParseEnvelope(body)
		if err != nil {
			b.Fatal(err)
		}
		cached, err := h.credentials(ctx, "acme", KindApp, false)
		if err != nil {
			b.Fatal(err)
		}
		_, crypto, err := h.verified(ctx, "acme", KindApp, cached, sig, timestamp, nonce, env.Encrypt)
		if err != nil {
			b.Fatal(err)
		}
		plain, err := crypto.Decrypt(env.Encrypt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := newEvent(1, KindApp, plain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse is the two parsers alone: a POST's envelope (with the Encrypt of an 888-byte
// message) and the 888-byte template_card_event itself.
func BenchmarkParse(b *testing.B) {
	plain := readTestdata(b, "template_card_event.xml")
	body, _ := cardEventPost(b)
	b.Run("envelope", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseEnvelope(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("message", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseMessage(plain); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cardEventPost is the body WeCom POSTs for testdata/template_card_event.xml, and its Encrypt.
func cardEventPost(tb testing.TB) (body []byte, encrypt string) {
	encrypt, err := vectorCrypto(tb).Encrypt(readTestdata(tb, "template_card_event.xml"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte("<xml><ToUserName><![CDATA[" + vecCorp + "]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[" +
		encrypt + "]]></Encrypt></xml>"), encrypt
}
