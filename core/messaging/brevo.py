"""SMS through Brevo's transactional SMS API (developers.brevo.com, "Send SMS message to a mobile number").

POST {SMS_API_URL}/transactionalSMS/send, header `api-key`, JSON {sender, recipient (international,
without "+"), content, type: "transactional", unicodeEnabled}; the answer (201) carries `messageId`
(the older /transactionalSMS/sms answered also reference, smsCount, usedCredits, remainingCredits).
Errors answer {code, message}: 400 invalid_parameter / missing_parameter (a bad number, a bad sender),
401 unauthorized (the key), 402 not_enough_credits, 429 too many requests, 5xx the provider's trouble.
"""
import httpx

from .channels import TryLater, Undeliverable

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 alphabet (basic set or its extension)."""
    return all(ch in GSM7 for ch in text)


class BrevoSms:
    name = "sms"

    def __init__(self, config):
        self.url = (config.get("SMS_API_URL") or "https://api.brevo.com/v3").rstrip("/") + "/transactionalSMS/send"
        self.key = config["SMS_API_KEY"]
        self.sender = config.get("SMS_SENDER") or "Centre"
        self.timeout = float(config.get("SMS_TIMEOUT") or 10)

    def sender_for(self, message) -> str:
        """The site's sender name (MessageSettings.sender_name, read by sending.py), else SMS_SENDER."""
        return (getattr(message, "sender_name", "") or self.sender)[:11]

    def send(self, message) -> str:
        payload = {
            "sender": self.sender_for(message),
            "recipient": message.recipient.lstrip("+").replace(" ", ""),
            "content": message.body,
            "type": "transactional",
            "unicodeEnabled": not is_gsm7(message.body),
        }
        headers = {"api-key": self.key, "accept": "application/json"}
        try:
            answer = httpx.post(self.url, json=payload, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise TryLater("Le service SMS (Brevo) n'a pas répondu à temps.") from exc
        except httpx.HTTPError as exc:
            raise TryLater(f"Service SMS (Brevo) injoignable ({type(exc).__name__}).") from exc
        status = answer.status_code
        if status in (200, 201):
            data = _json(answer)
            ref = data.get("messageId") or data.get("reference")
            return str(ref or "")[:100]
        data = _json(answer)
        detail = f"{data.get('code', '')} {data.get('message', '')}".strip()[:300]
        if status == 401:
            raise Undeliverable("Brevo refuse la clé d'API : vérifiez SMS_API_KEY.")
        if status == 402:
            raise Undeliverable("Crédit SMS épuisé chez Brevo : rechargez le compte, puis renvoyez le message.")
        if status == 429 or status >= 500:
            raise TryLater(f"Service SMS (Brevo) occupé ({status}).")
        raise Undeliverable(f"SMS refusé par Brevo ({status}) : {detail or 'requête invalide'}.")


def _json(answer) -> dict:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
